"""The Celery processes' metrics: tasks by outcome and duration, beat's last send, served on
METRICS_PORT by the worker's and beat's main process (api/metrics.py)."""

import time

from celery.signals import beat_init, before_task_publish, task_postrun, task_prerun, worker_init
from django.conf import settings
from prometheus_client import Counter, Gauge, Histogram

from api import metrics

TASKS = Counter("flexispace_tasks", "Celery tasks run, by task and final state.", ["task", "state"])
TASK_SECONDS = Histogram(
    "flexispace_task_duration_seconds",
    "How long each Celery task ran.",
    ["task"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
)
BEAT_LAST_SENT = Gauge(
    "flexispace_beat_last_sent_timestamp_seconds",
    "When beat last sent a periodic task (Unix time); a beat that stops ticking stops it.",
    multiprocess_mode="max",
)
_started: dict[str, float] = {}


@worker_init.connect
def _serve_worker(**kwargs):
    # In the main process, before the pool forks: the children report through the directory.
    metrics.serve(settings.METRICS_PORT)


@beat_init.connect
def _serve_beat(**kwargs):
    # Everything beat publishes is a periodic task; other processes publish tasks too.
    before_task_publish.connect(_beat_sent, weak=False)
    metrics.serve(settings.METRICS_PORT)


def _beat_sent(**kwargs):
    BEAT_LAST_SENT.set_to_current_time()


@task_prerun.connect
def _task_started(task_id, **kwargs):
    _started[task_id] = time.monotonic()


@task_postrun.connect
def _task_ended(task_id, task, state=None, **kwargs):
    TASKS.labels(task=task.name, state=state or "UNKNOWN").inc()
    started = _started.pop(task_id, None)
    if started is not None:
        TASK_SECONDS.labels(task=task.name).observe(time.monotonic() - started)
