"""The Celery processes log through the settings' LOGGING, and a task's lines carry its ids.

A task's arguments are ids (`request_id`, `lock_ids`, `notification_id`, …), so they are bound
to every line logged while it runs, with the task's name and id. Celery's own two lines per
task give way to one at its end, with its outcome and duration; a sweep that found nothing to
do says so at DEBUG, so the log at INFO shows what happened and nothing else.
"""

import inspect
import logging
import logging.config
import time

from celery.signals import setup_logging, task_postrun, task_prerun
from django.conf import settings

from api import logs
from beat.schedule import SCHEDULE

log = logging.getLogger("workers.tasks")
SWEEPS = {entry["task"] for entry in SCHEDULE.values()}
_running: dict[str, tuple] = {}


@setup_logging.connect
def _configure_logging(**kwargs):
    # A receiver here keeps Celery from installing its own plain-text handlers; warnings (such
    # as Celery's about running as root) become log lines too.
    logging.config.dictConfig(settings.LOGGING)
    logging.captureWarnings(True)


@task_prerun.connect
def _bind_ids(task_id, task, args=(), kwargs=None, **extra):
    try:
        ids = inspect.signature(task.run).bind(*args, **(kwargs or {})).arguments
    except TypeError:
        ids = {}
    token = logs.bind(task=task.name, task_id=task_id, **ids)
    _running[task_id] = (token, time.monotonic())


@task_postrun.connect
def _log_outcome(task_id, task, retval=None, state=None, **extra):
    token, started = _running.pop(task_id, (None, None))
    fields = {"state": state}
    if started is not None:
        fields["duration_ms"] = round((time.monotonic() - started) * 1000, 1)
    if isinstance(retval, (int, str)) or (isinstance(retval, dict) and len(retval) <= 10):
        fields["result"] = retval
    if state != "SUCCESS":
        level = logging.WARNING
    elif task.name in SWEEPS and did_nothing(retval):
        level = logging.DEBUG
    else:
        level = logging.INFO
    log.log(level, "%s %s", task.name, (state or "done").lower(), extra=fields)
    if token is not None:
        logs.unbind(token)


def did_nothing(result) -> bool:
    """A sweep's result that counts nothing: 0, or a dict of zeros."""
    if isinstance(result, dict):
        return not any(result.values())
    return not result
