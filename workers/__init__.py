"""The Celery app: `celery -A workers worker` consumes the queues named in the Procfile."""

import os

from celery import Celery
from celery.signals import task_postrun, task_prerun

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "api.settings")

app = Celery(
    "flexispace",
    include=["workers.allocation", "workers.locks", "workers.notifications", "beat.tasks"],
)
app.config_from_object("django.conf:settings", namespace="CELERY")


@task_prerun.connect
@task_postrun.connect
def _retire_unusable_connections(**kwargs):
    # What Django does around each HTTP request, done around each task.
    from django.db import close_old_connections

    close_old_connections()
