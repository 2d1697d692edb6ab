"""The project's settings plus the baselines' app and URL, for benchmark runs only."""

import os

from api.settings import *  # noqa: F403
from api.settings import INSTALLED_APPS

INSTALLED_APPS = [*INSTALLED_APPS, "benchmarks.baseline"]
ROOT_URLCONF = "benchmarks.urls"

# The boundary baseline runs beat with its clocked tasks alone, without the project's sweeps.
if os.environ.get("BENCH_STATIC_BEAT") == "off":
    CELERY_BEAT_SCHEDULE = {}

# Mail from a run goes to a folder of its own, removed at the end of the run.
if os.environ.get("BENCH_MAIL_DIR") and not EMAIL_HOST:  # noqa: F405
    EMAIL_FILE_PATH = os.environ["BENCH_MAIL_DIR"]
