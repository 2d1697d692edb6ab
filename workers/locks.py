"""Tasks on the `locks` queue. One MQTT connection per worker process, made after the fork."""

import contextlib

from celery.signals import worker_process_init, worker_process_shutdown
from django.db import InterfaceError, OperationalError

from api.access import services
from devices.mqtt import NotPublished, close_publisher, publisher
from workers import app

TRANSIENT = (InterfaceError, OperationalError, NotPublished, ConnectionError, OSError)


@worker_process_init.connect
def _connect(**kwargs):
    # A pool process connects once, at its start; a failure here is retried on first use.
    with contextlib.suppress(ConnectionError, OSError):
        publisher()


@worker_process_shutdown.connect
def _disconnect(**kwargs):
    close_publisher()


@app.task(
    name="locks.publish",
    queue="locks",
    acks_late=True,
    autoretry_for=TRANSIENT,
    retry_backoff=True,
    retry_backoff_max=30,
    max_retries=8,
)
def publish(lock_ids: list[str]) -> dict[str, int]:
    return services.publish_desired_state(lock_ids)


@app.task(
    name="locks.send_command",
    queue="locks",
    acks_late=True,
    autoretry_for=TRANSIENT,
    retry_backoff=True,
    max_retries=3,
)
def send_command(cmd_id: str) -> bool:
    return services.send_command(cmd_id)


@app.task(
    name="locks.check_in",
    queue="locks",
    acks_late=True,
    autoretry_for=(InterfaceError, OperationalError),
    retry_backoff=True,
    max_retries=5,
)
def check_in(event_id: int) -> bool:
    return services.check_in(event_id)
