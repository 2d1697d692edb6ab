"""Does each configured service answer? None if it does, else a short reason.

`manage.py up` runs these before it starts anything and /readyz reports them. Each opens a
connection of its own with a short timeout, so a dead service answers quickly.
"""

import time
import uuid

import psycopg
import redis
from django.conf import settings

from devices.mqtt import make_client

TIMEOUT = 2.0


def check_database() -> str | None:
    database = settings.DATABASES["default"]
    params = {
        "dbname": database["NAME"],
        "user": database["USER"],
        "password": database["PASSWORD"],
        "host": database["HOST"],
        "port": database["PORT"],
    }
    try:
        with psycopg.connect(
            **{key: value for key, value in params.items() if value},
            connect_timeout=int(TIMEOUT),
        ) as connection:
            connection.execute("SELECT 1")
    except psycopg.Error as error:
        return f"PostgreSQL does not answer: {_first_line(error)}"
    return None


def check_redis() -> str | None:
    client = redis.Redis.from_url(
        settings.REDIS_URL, socket_connect_timeout=TIMEOUT, socket_timeout=TIMEOUT
    )
    try:
        client.ping()
    except redis.RedisError as error:
        return f"Redis does not answer: {_first_line(error)}"
    finally:
        client.close()
    return None


def check_mqtt() -> str | None:
    try:
        client, (host, port) = make_client(f"probe-{uuid.uuid4().hex[:12]}")
    except ValueError as error:
        return str(error)
    client.connect_timeout = TIMEOUT
    outcome: list[str | None] = []

    def on_connect(client, userdata, flags, reason_code, properties):
        outcome.append(f"broker refused: {reason_code}" if reason_code.is_failure else None)

    client.on_connect = on_connect
    try:
        client.connect(host, port)
        deadline = time.monotonic() + TIMEOUT
        while not outcome and time.monotonic() < deadline:
            client.loop(timeout=0.1)
    except (OSError, ValueError) as error:
        return f"MQTT broker does not answer: {_first_line(error)}"
    finally:
        client.disconnect()
    if not outcome:
        return f"MQTT broker sent no CONNACK within {TIMEOUT:.0f} s"
    return outcome[0] and f"MQTT broker {outcome[0]}"


def _first_line(error: Exception) -> str:
    return (str(error).strip().splitlines() or [type(error).__name__])[0]
