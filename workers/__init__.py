"""The Celery app: `celery -A workers worker` consumes the queues named in the Procfile."""

import os

from celery import Celery
from celery.signals import task_postrun, task_prerun
from django.conf import settings

from api import embedded

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "api.settings")

app = Celery(
    "flexispace",
    include=["workers.allocation", "workers.locks", "workers.notifications", "beat.tasks"],
)
app.config_from_object("django.conf:settings", namespace="CELERY")


@app.on_configure.connect
def _embedded_servers_for_unset_urls(sender, **kwargs):
    # Celery reads its configuration (the Django settings) right after this. In the `celery`
    # command nothing has read the settings yet: a worker or beat run without service URLs
    # gets the embedded servers, as `manage.py` does. Any other process read them long ago.
    if not settings.configured:
        embedded.start_unset()


@task_prerun.connect
@task_postrun.connect
def _retire_unusable_connections(**kwargs):
    # What Django does around each HTTP request, done around each task.
    from django.db import close_old_connections

    close_old_connections()


# Their signal receivers must be connected before the worker sets up its logs and its pool.
from workers import logs, metrics  # noqa: E402, F401
