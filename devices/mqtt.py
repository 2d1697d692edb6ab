"""MQTT clients made from settings.MQTT_URL, and the one publisher each process shares.

`mqtt://user:pass@host:1883` or `mqtts://…` (TLS, port 8883 by default). Every socket gets
TCP_NODELAY: the messages are small and a publisher waits for each PUBACK, so Nagle's algorithm
would only add delay.
"""

import contextlib
import logging
import os
import socket
import ssl
import threading
import time
from urllib.parse import unquote, urlsplit

import paho.mqtt.client as mqtt

log = logging.getLogger(__name__)

PUBLISH_TIMEOUT = 10.0
CONNECT_TIMEOUT = 10.0


class NotPublished(RuntimeError):
    """The broker did not acknowledge a QoS 1 publication in time."""


def broker_address(url: str) -> tuple[str, int, bool, str | None, str | None]:
    """(host, port, tls, username, password) of an mqtt:// or mqtts:// URL."""
    parts = urlsplit(url)
    if parts.scheme not in ("mqtt", "mqtts"):
        raise ValueError(f"MQTT_URL must start with mqtt:// or mqtts://, not {parts.scheme}://")
    tls = parts.scheme == "mqtts"
    username = unquote(parts.username) if parts.username else None
    password = unquote(parts.password) if parts.password else None
    return (
        parts.hostname or "127.0.0.1",
        parts.port or (8883 if tls else 1883),
        tls,
        username,
        password,
    )


def make_client(
    client_id: str,
    *,
    url: str | None = None,
    clean_session: bool = True,
    username: str | None = None,
    password: str | None = None,
) -> tuple[mqtt.Client, tuple[str, int]]:
    """A configured, unconnected client and the (host, port) to connect it to.

    `username`/`password` override the URL's (a simulated lock logs in as itself).
    """
    from django.conf import settings

    host, port, tls, url_user, url_password = broker_address(url or settings.MQTT_URL)
    client = mqtt.Client(
        mqtt.CallbackAPIVersion.VERSION2,
        client_id=client_id,
        clean_session=clean_session,
        protocol=mqtt.MQTTv311,
    )
    user = username if username is not None else url_user
    if user:
        client.username_pw_set(user, password if username is not None else url_password)
    if tls:
        client.tls_set(cert_reqs=ssl.CERT_REQUIRED)
    client.on_socket_open = no_delay
    # Room for a boundary storm: paho's default in-flight window of 20 would serialise it.
    client.max_inflight_messages_set(1000)
    client.max_queued_messages_set(0)
    return client, (host, port)


def no_delay(client, userdata, sock) -> None:
    with contextlib.suppress(OSError, AttributeError):
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


def connect_and_wait(client: mqtt.Client, address: tuple[str, int], keepalive: int = 60) -> None:
    """Connect, start the network thread, and wait for the broker's CONNACK."""
    connected = threading.Event()
    failure: list[str] = []
    previous = client.on_connect

    def on_connect(client, userdata, flags, reason_code, properties):
        if reason_code.is_failure:
            failure.append(str(reason_code))
        connected.set()
        if previous:
            previous(client, userdata, flags, reason_code, properties)

    client.on_connect = on_connect
    client.connect(address[0], address[1], keepalive=keepalive)
    client.loop_start()
    if not connected.wait(CONNECT_TIMEOUT):
        client.loop_stop()
        raise ConnectionError(f"no CONNACK from the MQTT broker at {address[0]}:{address[1]}")
    client.on_connect = previous
    if failure:
        client.loop_stop()
        raise ConnectionError(f"the MQTT broker refused the connection: {failure[0]}")


class Publisher:
    """The backend's connection for `desired` and `cmd`: one per process, made on first use."""

    def __init__(self):
        from django.conf import settings

        name = f"{settings.NAMESPACE}-backend-{socket.gethostname()}-{os.getpid()}"[:64]
        self.client, address = make_client(name)
        self.client.reconnect_delay_set(min_delay=1, max_delay=10)
        self.pid = os.getpid()
        self.broken = False
        connect_and_wait(self.client, address)
        log.info("MQTT publisher %s connected", name)

    def publish(self, topic: str, payload: bytes, retain: bool) -> mqtt.MQTTMessageInfo:
        """Publish QoS 1, or NotPublished at once: nothing is left queued for a later connection.

        paho keeps a QoS 1 message published while disconnected and sends it on reconnect, long
        after its caller gave up; so a client that is not connected, or whose publication fails,
        is dropped (never to reconnect) before the caller hears of it.
        """
        if not self.client.is_connected():
            self.drop()
            raise NotPublished("not connected to the MQTT broker")
        info = self.client.publish(topic, payload, qos=1, retain=retain)
        if info.rc != mqtt.MQTT_ERR_SUCCESS:
            self.drop()
            raise NotPublished(f"the publication failed: {mqtt.error_string(info.rc)}")
        return info

    def wait(self, infos: list[mqtt.MQTTMessageInfo], timeout: float = PUBLISH_TIMEOUT) -> None:
        """Wait until the broker acknowledged every publication; NotPublished otherwise (and
        the client is dropped with whatever it still holds)."""
        deadline = time.monotonic() + timeout
        for info in infos:
            try:
                info.wait_for_publish(max(0.0, deadline - time.monotonic()))
            except (ValueError, RuntimeError) as error:
                self.drop()
                raise NotPublished(str(error)) from None
            if not info.is_published():
                self.drop()
                raise NotPublished(f"no PUBACK within {timeout:.0f} s")

    def drop(self) -> None:
        """Close the connection for good; the process's next publisher() makes a new one."""
        self.broken = True
        self.close()

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


_publisher: Publisher | None = None
_lock = threading.Lock()


def publisher() -> Publisher:
    """This process's publisher. A forked child makes its own (a socket is not shared)."""
    global _publisher
    with _lock:
        if _publisher is None or _publisher.pid != os.getpid() or _publisher.broken:
            _publisher = Publisher()
        return _publisher


def close_publisher() -> None:
    global _publisher
    with _lock:
        if _publisher is not None and _publisher.pid == os.getpid():
            _publisher.close()
        _publisher = None
