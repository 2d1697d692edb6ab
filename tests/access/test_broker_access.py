"""The production broker: `broker_config`'s output run by a Mosquitto of the test's own, the
accounts made, changed and deleted at once through dynamic security, the protocol's ACL."""

import io
import json
import queue
import threading

import pytest
from django.conf import settings
from django.core.management import call_command

from api.access import broker, services
from api.access.models import Lock
from devices import protocol
from tests.access.conftest import connect_as, new_lock_id
from tests.conftest import client_for
from tests.factories import SpaceFactory

pytestmark = pytest.mark.django_db(transaction=True)


class Heard:
    """What a client receives, by topic."""

    def __init__(self):
        self.messages: queue.SimpleQueue = queue.SimpleQueue()

    def on_message(self, client, userdata, message):
        self.messages.put((message.topic, message.payload))

    def all(self, wait=1.0) -> list[tuple[str, bytes]]:
        found = []
        try:
            while True:
                found.append(self.messages.get(timeout=wait))
        except queue.Empty:
            return found


def subscribe(client, topics) -> list[int]:
    """Subscribe; the broker's granted QoS per topic (128: refused)."""
    done = threading.Event()
    granted = []

    def on_subscribe(client, userdata, mid, reason_codes, properties):
        granted.extend(code.value for code in reason_codes)
        done.set()

    client.on_subscribe = on_subscribe
    client.subscribe([(topic, 1) for topic in topics])
    assert done.wait(5), "no SUBACK"
    return granted


def topic(lock_id, kind):
    return protocol.topic(settings.MQTT_TOPIC_ROOT, lock_id, kind)


def close(*clients):
    for client in clients:
        client.disconnect()
        client.loop_stop()


def test_broker_config_writes_no_anonymous_access_persistence_and_the_two_accounts(acl_broker):
    conf = (acl_broker.directory / "mosquitto.conf").read_text()
    assert "allow_anonymous false" in conf
    assert f"persistence_location {acl_broker.directory}/" in conf
    assert f"listener {acl_broker.port} 127.0.0.1" in conf
    security = json.loads((acl_broker.directory / "dynamic-security.json").read_text())
    assert {c["username"] for c in security["clients"]} == {"admin", "backend"}
    # Hashes only: no password is written in clear.
    assert acl_broker.backend_url.split(":")[2].split("@")[0] not in json.dumps(security)
    # The configuration it refuses to overwrite holds every lock's account.
    with pytest.raises(Exception, match="holds a broker configuration already"):
        call_command("broker_config", str(acl_broker.directory), stdout=io.StringIO())


def test_an_anonymous_client_and_a_wrong_password_are_refused(acl_broker):
    with pytest.raises(ConnectionError, match="refused"):
        connect_as(acl_broker, None, None)
    lock, password = services.enrol_lock(new_lock_id(), SpaceFactory())
    with pytest.raises(ConnectionError, match="refused"):
        connect_as(acl_broker, lock.id, password + "x")
    close(connect_as(acl_broker, lock.id, password))


def test_a_lock_reads_and_writes_only_its_own_topics(acl_broker):
    lock, password = services.enrol_lock(new_lock_id(), SpaceFactory())
    other, _ = services.enrol_lock(new_lock_id(), SpaceFactory())
    backend_heard, lock_heard = Heard(), Heard()
    backend = connect_as(acl_broker, "backend", acl_broker.backend_url.split(":")[2].split("@")[0],
                         on_message=backend_heard.on_message)  # fmt: skip
    assert subscribe(backend, [protocol.subscription(settings.MQTT_TOPIC_ROOT, k)
                               for k in (*protocol.FROM_LOCK, "desired", "cmd")])[:5] == [1] * 5  # fmt: skip
    backend_heard.all(0.5)  # the retained states of enrolment
    door = connect_as(acl_broker, lock.id, password, on_message=lock_heard.on_message)
    try:
        # Its own desired and cmd, yes; another lock's, or any wildcard, no.
        assert subscribe(door, [topic(lock.id, "desired"), topic(lock.id, "cmd")]) == [1, 1]
        for forbidden in (
            topic(other.id, "desired"),
            topic(other.id, "cmd"),
            protocol.subscription(settings.MQTT_TOPIC_ROOT, "desired"),
            topic(other.id, "reported"),
            topic(lock.id, "reported"),
            "#",
        ):
            assert subscribe(door, [forbidden]) == [128], forbidden
        # Its own reported, status, events and ack reach the backend.
        for kind in protocol.FROM_LOCK:
            door.publish(topic(lock.id, kind), f'"{kind}"', qos=1).wait_for_publish(5)
        # Any desired or cmd, and another lock's topics, are dropped by the broker.
        for kind in ("desired", "cmd"):
            door.publish(topic(lock.id, kind), b"forged", qos=1).wait_for_publish(5)
            door.publish(topic(other.id, kind), b"forged", qos=1).wait_for_publish(5)
        door.publish(topic(other.id, "reported"), b"forged", qos=1).wait_for_publish(5)
        heard = backend_heard.all()
        assert sorted(t for t, p in heard) == sorted(topic(lock.id, k) for k in protocol.FROM_LOCK)
        assert b"forged" not in {p for _, p in heard}
        # Nothing forged reached the lock.
        assert b"forged" not in {p for _, p in lock_heard.all(0)}
    finally:
        close(backend, door)


def test_a_removed_lock_is_refused_at_once(acl_broker, as_operator):
    lock, password = services.enrol_lock(new_lock_id(), SpaceFactory())
    gone = threading.Event()
    door = connect_as(acl_broker, lock.id, password, on_disconnect=lambda *a: gone.set())
    door.reconnect_delay_set(60, 60)
    assert as_operator.delete(f"/api/v1/locks/{lock.id}/").status_code == 204
    # Its connection is closed by the broker, and it cannot connect again.
    assert gone.wait(5)
    close(door)
    with pytest.raises(ConnectionError, match="refused"):
        connect_as(acl_broker, lock.id, password)
    assert not Lock.objects.filter(pk=lock.pk).exists()


def test_a_rotated_password_works_at_once_and_the_old_one_stops(acl_broker, as_operator):
    lock, old = services.enrol_lock(new_lock_id(), SpaceFactory())
    response = as_operator.post(f"/api/v1/locks/{lock.id}/rotate-password/")
    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"id", "mqtt_username", "mqtt_password"}
    assert body["mqtt_password"] != old
    with pytest.raises(ConnectionError, match="refused"):
        connect_as(acl_broker, lock.id, old)
    close(connect_as(acl_broker, lock.id, body["mqtt_password"]))


def test_without_the_broker_an_enrolment_fails_whole_with_a_503(acl_broker, operator):
    acl_broker.stop()
    lock_id = new_lock_id()
    response = client_for(operator).post(
        "/api/v1/locks/", {"id": lock_id, "space": SpaceFactory().pk}, format="json"
    )
    assert response.status_code == 503
    assert not Lock.objects.filter(pk=lock_id).exists()


def test_broker_sync_makes_the_accounts_match_the_enrolled_locks(acl_broker):
    kept, kept_password = services.enrol_lock(new_lock_id(), SpaceFactory())
    lost, lost_password = services.enrol_lock(new_lock_id(), SpaceFactory())
    with broker.Admin() as admin:
        # Drift: one lock's account lost, a stray account, a widened role.
        admin.run(broker._delete_commands(lost.id))
        admin.run(broker._lock_commands("stray-lock", "stray-password"))
        admin.run([{"command": "addRoleACL", "rolename": f"{broker.LOCK_ROLE_PREFIX}{kept.id}",
                    **broker._acl("subscribePattern", "#")}])  # fmt: skip
    output = io.StringIO()
    call_command("broker_sync", stdout=output)
    assert "1 created, 1 restored, 1 deleted" in output.getvalue()
    close(connect_as(acl_broker, lost.id, lost_password))
    with pytest.raises(ConnectionError, match="refused"):
        connect_as(acl_broker, "stray-lock", "stray-password")
    door = connect_as(acl_broker, kept.id, kept_password)
    try:
        assert subscribe(door, ["#"]) == [128]
    finally:
        close(door)


def test_a_lock_enrolled_before_broker_config_logs_in_to_the_new_broker_confined(
    acl_broker, settings
):
    # Enrolled with no broker to tell (the fleet of an existing database); the broker is then
    # configured and started afresh, with no command of the admin's.
    settings.MQTT_ADMIN_URL = ""
    lock, password = services.enrol_lock(new_lock_id(), SpaceFactory())
    other, _ = services.enrol_lock(new_lock_id(), SpaceFactory())
    settings.MQTT_ADMIN_URL = acl_broker.admin_url
    acl_broker.stop()
    output = io.StringIO()
    acl_broker.configure(stdout=output)
    acl_broker.start()
    assert "with the accounts of 2 enrolled locks" in output.getvalue()
    security = json.loads((acl_broker.directory / "dynamic-security.json").read_text())
    assert password not in json.dumps(security)
    backend_heard = Heard()
    backend = connect_as(acl_broker, "backend", acl_broker.backend_url.split(":")[2].split("@")[0],
                         on_message=backend_heard.on_message)  # fmt: skip
    subscribe(backend, [protocol.subscription(settings.MQTT_TOPIC_ROOT, "reported")])
    door = connect_as(acl_broker, lock.id, password)
    try:
        assert subscribe(door, [topic(lock.id, "desired"), topic(lock.id, "cmd")]) == [1, 1]
        assert subscribe(door, [topic(other.id, "desired")]) == [128]
        assert subscribe(door, ["#"]) == [128]
        door.publish(topic(other.id, "reported"), b"forged", qos=1).wait_for_publish(5)
        door.publish(topic(lock.id, "reported"), b"own", qos=1).wait_for_publish(5)
        assert [p for _, p in backend_heard.all()] == [b"own"]
    finally:
        close(backend, door)


def test_an_id_not_enrolled_when_broker_config_ran_has_no_account(acl_broker):
    # Enrolled before passwords were derived: no salt, so no password to give the broker.
    old = Lock.objects.create(id=new_lock_id(), space=SpaceFactory(), password_hash="!")
    acl_broker.stop()
    errors = io.StringIO()
    acl_broker.configure(stderr=errors)
    acl_broker.start()
    assert f"lock {old.id} was enrolled before passwords were derived" in errors.getvalue()
    stranger = new_lock_id()
    for lock_id, salt in ((stranger, broker.new_salt()), (old.id, "")):
        with pytest.raises(ConnectionError, match="refused"):
            connect_as(acl_broker, lock_id, broker.lock_password(lock_id, salt))


def test_broker_config_before_the_database_is_up_writes_the_two_accounts(acl_broker, monkeypatch):
    from django.db import OperationalError

    def no_database():
        raise OperationalError("connection refused")

    monkeypatch.setattr(broker, "enrolled_passwords", no_database)
    acl_broker.stop()
    errors = io.StringIO()
    acl_broker.configure(stderr=errors)
    assert "run broker_sync once the database is up" in errors.getvalue()
    security = json.loads((acl_broker.directory / "dynamic-security.json").read_text())
    assert {c["username"] for c in security["clients"]} == {"admin", "backend"}
