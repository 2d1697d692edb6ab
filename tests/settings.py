"""Settings for a test run: the project's own, in a corner of the shared servers of its own.

Several test runs, benchmarks and a dev stack may share one PostgreSQL, Redis and MQTT broker;
the test database gets a per-run name (conftest), and these keep the cache keys, the queues and
the lock topics apart. Processes the tests start inherit them through the environment.
"""

import os

from api import embedded

RUN = os.environ.setdefault("FLEXISPACE_NAMESPACE", f"test{os.getpid()}")
os.environ.setdefault("MQTT_TOPIC_ROOT", f"{RUN}/flexispace/v1")
# A development run: the development secrets are fine (pytest-django still runs each test with
# DEBUG off); tests of production start their processes with production values.
os.environ.setdefault("DEBUG", "on")
# The test run connects to everything: it uses the embedded servers for the unset service URLs,
# started here, before the project's settings read them (they are stopped when the run ends).
embedded.start_unset()

from api.settings import *  # noqa: E402, F403

# Hashing a password the slow, safe way only makes the tests slow.
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]

# Mail the tests' workers send lands here, not among the dev stack's in var/mail/.
EMAIL_FILE_PATH = VAR_DIR / "test-mail" / RUN  # noqa: F405
