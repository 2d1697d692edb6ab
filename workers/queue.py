"""Putting work on the queues, by task name, after the transaction that caused it commits."""

import logging

from django.db import transaction
from kombu.exceptions import OperationalError

log = logging.getLogger(__name__)


def enqueue(task_name: str, *args, **options) -> None:
    from workers import app

    try:
        app.send_task(task_name, args=args, **options)
    except OperationalError:
        # The row that asked for this work is committed; its sweeper queues it again.
        log.exception("broker unreachable, %s(%s) left to its sweeper", task_name, args)


def enqueue_on_commit(task_name: str, *args, **options) -> None:
    transaction.on_commit(lambda: enqueue(task_name, *args, **options))
