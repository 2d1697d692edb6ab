"""FlexiSpace settings: every knob an operator may turn is read from the environment.

Importing this module only reads: it starts no server, writes no file and opens no connection.
The embedded servers for unset service URLs are started by the processes that connect, before
they read these settings (see api/embedded.py).
"""

from datetime import timedelta
from pathlib import Path

import corsheaders.defaults
import dj_database_url

import beat.schedule
import devices.keys
from api import deploy, env

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = BASE_DIR / "var"

# --- safe by default: production unless a development command says otherwise ------------------

# Off unless set: `manage.py up` and the test run turn it on for themselves.
DEBUG = env.boolean("DEBUG", False)
SECRET_KEY = env.string("SECRET_KEY", deploy.DEVELOPMENT_SECRET_KEY)
ALLOWED_HOSTS = env.listing("ALLOWED_HOSTS", ["*"] if DEBUG else [])
if not DEBUG:
    # Production starts only with secrets and hosts of its own, each named when missing.
    deploy.refuse_development_values(SECRET_KEY, ALLOWED_HOSTS, env.string("LOCK_SIGNING_KEY"))
# The address people reach the service at. Every absolute URL starts with it (mail, .ics,
# feeds, and links in API answers through api.middleware.PublicUrl), never with the Host
# header a client sent.
PUBLIC_URL = deploy.public_url(
    env.string("PUBLIC_URL", f"http://127.0.0.1:{env.integer('PORT', 8000)}")
)
# Served at an https address: cookies travel over https only and browsers are told to stay on
# https. TLS ends in the proxy in front (docs/operations.md), which also redirects plain http,
# so the app does not (check --deploy's reminder to is silenced); gunicorn learns the scheme
# from the proxy's X-Forwarded-Proto when FORWARDED_ALLOW_IPS names the proxy.
HTTPS = PUBLIC_URL.startswith("https://")
SESSION_COOKIE_SECURE = CSRF_COOKIE_SECURE = HTTPS
# Seconds browsers keep to https (0 sends no HSTS header).
SECURE_HSTS_SECONDS = env.integer("SECURE_HSTS_SECONDS", 365 * 24 * 3600 if HTTPS else 0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = True
# Asking browsers' preload lists to carry the domain is its owner's decision, so it is off
# unless set, and check --deploy's reminder about it is silenced.
SECURE_HSTS_PRELOAD = env.boolean("SECURE_HSTS_PRELOAD", False)
SILENCED_SYSTEM_CHECKS = ["security.W008", "security.W021"]
CSRF_TRUSTED_ORIGINS = [PUBLIC_URL]
X_FRAME_OPTIONS = "DENY"

TIME_ZONE = env.string("TIME_ZONE", "Europe/Helsinki")
USE_TZ = True
USE_I18N = True
LANGUAGE_CODE = "fi"
LANGUAGES = [("fi", "Suomi"), ("sv", "Svenska"), ("en", "English")]
# The project's catalogs, compiled (.mo) and committed: nothing to compile at install.
LOCALE_PATHS = [BASE_DIR / "api" / "locale"]
LANGUAGE_COOKIE_SECURE = HTTPS

INSTALLED_APPS = [
    "api.apps.AdminConfig",  # django.contrib.admin, open to organisations' members
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.postgres",
    "rest_framework",
    "rest_framework.authtoken",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "corsheaders",
    "django_celery_beat",
    "django_prometheus",
    "auditlog",
    "api.accounts",
    "api.organisations",
    "api.catalogue",
    "api.bookings",
    "api.access",
    "api.notifications",
    "api.ops",
    "api.pages",
    "api.privacy",
    "api.audit",
]

MIDDLEWARE = [
    # HTTP metrics (django-prometheus): the first and the last middleware, to time everything.
    "django_prometheus.middleware.PrometheusBeforeMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "api.middleware.PublicUrl",
    # The admin's and the API docs' static files, served by the API process itself.
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    # The language of the pages and of the answers to anonymous requests: the `django_language`
    # cookie, else Accept-Language. A signed-in API user's own `language` wins (api/accounts/
    # authentication.py).
    "django.middleware.locale.LocaleMiddleware",
    # After the language is known, for its message; before anything reads the body.
    "api.errors.LimitBodySize",
    # Before CommonMiddleware, so that a preflight is answered before anything else.
    "corsheaders.middleware.CorsMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "api.audit.middleware.AuditActorMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_prometheus.middleware.PrometheusAfterMiddleware",
]

# The audit trail (api/audit): django-auditlog's entries, with their organisation; no client
# addresses, which nobody reading the trail needs.
AUDITLOG_LOGENTRY_MODEL = "audit.AuditEntry"
AUDITLOG_DISABLE_REMOTE_ADDR = True
# auditlog's own migrations would create its default table, unused beside AuditEntry (and in
# the way of every flush, referring to accounts): the app has no other model, so none.
MIGRATION_MODULES = {"auditlog": None}

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

ROOT_URLCONF = "api.urls"
WSGI_APPLICATION = "api.wsgi.application"
AUTH_USER_MODEL = "accounts.User"
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
STATIC_URL = "static/"
STATIC_ROOT = VAR_DIR / "static"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ]
        },
    }
]

# --- services: a set URL is used as it is ---------------------------------------------------------

# Unset, a process that connects has put its embedded server's URL here before reading these
# (api/embedded.py); only commands that connect to nothing, like `check`, see them unset.
DATABASE_URL = env.string("DATABASE_URL")
REDIS_URL = env.string("REDIS_URL")
MQTT_URL = env.string("MQTT_URL")
MQTT_TOPIC_ROOT = env.string("MQTT_TOPIC_ROOT", "flexispace/v1")
# The broker's dynamic-security admin account: set, enrolment creates each lock's broker account
# and removal deletes it at once (api/access/broker.py); unset, they are managed outside.
MQTT_ADMIN_URL = env.string("MQTT_ADMIN_URL")
# Keeps one test run's or benchmark's cache keys and queues apart from another's on shared
# servers (the database and MQTT_TOPIC_ROOT are set apart the usual way).
NAMESPACE = env.string("FLEXISPACE_NAMESPACE", "flexispace")

# Persistent connections: a new connection per request costs more than the request itself.
# Without a URL (a command that connects to nothing) Django's dummy backend refuses any query.
DATABASES = {}
if DATABASE_URL:
    DATABASES["default"] = dj_database_url.parse(
        DATABASE_URL, conn_max_age=600, conn_health_checks=True
    )

CACHES = {
    "default": {
        # Django's, reusing its redis-py clients (api/cache.py).
        "BACKEND": "api.cache.RedisCache",
        "LOCATION": REDIS_URL,
        "KEY_PREFIX": NAMESPACE,
    }
}

# --- Celery ---------------------------------------------------------------------------------------

CELERY_BROKER_URL = REDIS_URL
CELERY_BROKER_TRANSPORT_OPTIONS = {
    # A task not acknowledged within this time is handed to another worker. It must exceed the
    # longest task; the pending-request sweeper covers what is lost beyond that.
    "visibility_timeout": 3600,
    "global_keyprefix": f"{NAMESPACE}:",
    # A worker takes from its queues in the order it was given them (the Procfile: locks,
    # allocation, notifications): doors first, then decisions, then mail. Round robin would
    # let a backlog of emails slow every decision down by half.
    "queue_order_strategy": "priority",
}
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 4
CELERY_TASK_IGNORE_RESULT = True
# Celery's Django fix-up closes the database connection around every task unless told to reuse
# it; a new connection per task cuts throughput to a third. workers/ still retires a broken or
# old connection by Django's own rules (CONN_MAX_AGE, health checks).
CELERY_DB_REUSE_MAX = 1_000_000
CELERY_TASK_DEFAULT_QUEUE = "allocation"
CELERY_TASK_ROUTES = {
    "allocation.*": {"queue": "allocation"},
    "locks.*": {"queue": "locks"},
    "notifications.*": {"queue": "notifications"},
}

# Bookings (and their requests and notifications) that ended this many months ago lose the
# person they were for (api/privacy/services.py, the beat sweep "privacy.retention_sweep").
RETENTION_MONTHS = env.integer("RETENTION_MONTHS", 24, minimum=1)

CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"
CELERY_BEAT_SCHEDULE = beat.schedule.SCHEDULE
CELERY_TIMEZONE = "UTC"

# --- Django REST framework ------------------------------------------------------------------------

THROTTLING = env.boolean("THROTTLING", True)
# Log-in attempts naming one account, and from one client address, and new accounts from one
# address (a 429 with Retry-After beyond them; api/throttles.py counts them in Redis).
LOGIN_RATE = env.rate("LOGIN_RATE", "10/min")
LOGIN_ADDRESS_RATE = env.rate("LOGIN_ADDRESS_RATE", "30/min")
REGISTRATION_RATE = env.rate("REGISTRATION_RATE", "10/hour")
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": ["api.accounts.authentication.TokenAuthentication"],
    # Every error answer with its machine-readable codes beside the messages (api/errors.py).
    "EXCEPTION_HANDLER": "api.errors.handle",
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_PARSER_CLASSES": ["api.parsers.JSONParser"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PAGINATION_CLASS": "rest_framework.pagination.PageNumberPagination",
    "PAGE_SIZE": 50,
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    # The proxies in front of the API that append to X-Forwarded-For: a rate limit's client
    # address is the one the last of them saw. With none, the header (which anyone can send)
    # is ignored and the connection's own address counts.
    "NUM_PROXIES": env.integer("NUM_PROXIES", 0),
}
DATA_UPLOAD_MAX_MEMORY_SIZE = 64 * 1024

SPECTACULAR_SETTINGS = {
    "TITLE": "FlexiSpace API",
    "DESCRIPTION": "Find a free space by activity, book it, get in with a smart-lock code.",
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    "COMPONENT_SPLIT_REQUEST": True,
    "ENUM_NAME_OVERRIDES": {"WebhookEventEnum": "api.notifications.choices.WebhookEvent"},
    # Swagger UI's files from the drf-spectacular-sidecar package, served by the project.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
}

# Frontends served from other origins (comma-separated), for the API only.
CORS_ALLOWED_ORIGINS = env.listing("CORS_ALLOWED_ORIGINS", [])
CORS_URLS_REGEX = r"^/api/"
CORS_ALLOW_HEADERS = [*corsheaders.defaults.default_headers, "accept-language", "idempotency-key"]
CORS_EXPOSE_HEADERS = ["Location", "Retry-After", "Content-Language"]

# --- booking rules --------------------------------------------------------------------------------

# Booking requests one person may make, e.g. "30/min" (429 with Retry-After beyond it).
BOOKING_REQUEST_RATE = env.rate("BOOKING_REQUEST_RATE", "30/min")
# How many confirmed bookings that have not yet ended one person may hold.
MAX_ACTIVE_BOOKINGS_PER_USER = env.integer("MAX_ACTIVE_BOOKINGS_PER_USER", 10, minimum=1)
# Fair use (docs/fair-use.md), the defaults for a venue without values of its own: booked hours
# per person in one local week; a booking whose code the lock has not accepted this long after
# its start is released as a no-show; this many no-shows within the period pause the person's
# new bookings for PAUSE_DAYS.
MAX_WEEKLY_HOURS_PER_USER = env.integer("MAX_WEEKLY_HOURS_PER_USER", 20, minimum=1)
NO_SHOW_AFTER_MINUTES = env.integer("NO_SHOW_AFTER_MINUTES", 15)
NO_SHOW_LIMIT = env.integer("NO_SHOW_LIMIT", 3, minimum=1)
NO_SHOW_PERIOD_DAYS = env.integer("NO_SHOW_PERIOD_DAYS", 30, minimum=1)
PAUSE_DAYS = env.integer("PAUSE_DAYS", 14, minimum=1)
# A request still pending this long after it was queued is queued again by the sweeper.
BOOKING_REQUEUE_AFTER = timedelta(seconds=env.integer("BOOKING_REQUEUE_AFTER_SECONDS", 30))
AVAILABILITY_MAX_DAYS = 31

# --- smart locks (docs/lock-protocol.md) ----------------------------------------------------------

# The backend's Ed25519 key: base64 of the raw 32-byte private key. Unset, the first process
# that signs generates a development key into LOCK_SIGNING_KEY_FILE (never use it in production).
LOCK_SIGNING_KEY = devices.keys.checked(env.string("LOCK_SIGNING_KEY"))
LOCK_SIGNING_KEY_FILE = VAR_DIR / "lock-signing-key"
LOCK_SIGNING_KID = env.string("LOCK_SIGNING_KID", "backend-1")
# Grants go onto their lock this long before their window opens.
LOCK_PROVISION_LEAD = timedelta(hours=env.integer("LOCK_PROVISION_LEAD_HOURS", 24, minimum=1))
# The locks' MQTT keep-alive; a lock silent for three of them counts as offline.
LOCK_KEEPALIVE_SECONDS = env.integer("LOCK_KEEPALIVE_SECONDS", 60, minimum=1)
# A lock whose applied version still lags this long after a publication is sent it again.
LOCK_REPUBLISH_AFTER = timedelta(seconds=env.integer("LOCK_REPUBLISH_AFTER_SECONDS", 30))
LOCK_CODE_DIGITS = env.integer("LOCK_CODE_DIGITS", 6, minimum=4)

# --- notifications: email, webhooks, calendars ----------------------------------------------------

EMAIL_HOST = env.string("EMAIL_HOST")
if EMAIL_HOST:
    EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    EMAIL_PORT = env.integer("EMAIL_PORT", 25, minimum=1)
    EMAIL_HOST_USER = env.string("EMAIL_HOST_USER", "")
    EMAIL_HOST_PASSWORD = env.string("EMAIL_HOST_PASSWORD", "")
    EMAIL_USE_TLS = env.boolean("EMAIL_USE_TLS", False)
else:
    # No mail server: each message becomes one .eml file under var/mail/, logged as written.
    EMAIL_BACKEND = "api.notifications.mail.FileBackend"
    EMAIL_FILE_PATH = VAR_DIR / "mail"
DEFAULT_FROM_EMAIL = env.string("DEFAULT_FROM_EMAIL", "FlexiSpace <noreply@flexispace.local>")
# A mail server that does not answer holds one worker at most this long per attempt.
EMAIL_TIMEOUT = env.integer("EMAIL_TIMEOUT", 10, minimum=1)


# Reminders before a booking's start, in minutes (24 h and 2 h unless told otherwise).
NOTIFICATION_REMINDER_MINUTES = sorted(
    env.integers("NOTIFICATION_REMINDER_MINUTES", [1440, 120], minimum=1), reverse=True
)
# The owner and the venue's operators hear of a code its lock has not confirmed this long
# before the start.
ACCESS_PROBLEM_LEAD = timedelta(minutes=env.integer("ACCESS_PROBLEM_LEAD_MINUTES", 15, minimum=1))
# A failed send waits base·2^(attempt-1) seconds (at most max), and gives up after the attempts.
NOTIFICATION_MAX_ATTEMPTS = env.integer("NOTIFICATION_MAX_ATTEMPTS", 6, minimum=1)
NOTIFICATION_RETRY_BASE_SECONDS = env.integer("NOTIFICATION_RETRY_BASE_SECONDS", 30, minimum=1)
NOTIFICATION_RETRY_MAX_SECONDS = env.integer("NOTIFICATION_RETRY_MAX_SECONDS", 1800, minimum=1)
# A row in `sending` this long whose sender holds no lock on it lost its worker: sent again.
NOTIFICATION_SENDING_TIMEOUT = timedelta(
    seconds=env.integer("NOTIFICATION_SENDING_TIMEOUT_SECONDS", 120, minimum=1)
)
# A pending row this long past due (its queued task lost) is queued again by the sweeper.
NOTIFICATION_REQUEUE_AFTER = timedelta(
    seconds=env.integer("NOTIFICATION_REQUEUE_AFTER_SECONDS", 60, minimum=1)
)
WEBHOOK_MAX_ATTEMPTS = env.integer("WEBHOOK_MAX_ATTEMPTS", 8, minimum=1)
WEBHOOK_RETRY_BASE_SECONDS = env.integer("WEBHOOK_RETRY_BASE_SECONDS", 10, minimum=1)
WEBHOOK_RETRY_MAX_SECONDS = env.integer("WEBHOOK_RETRY_MAX_SECONDS", 1800, minimum=1)
# Connect and read timeout per attempt: a receiver that never answers costs this much, once.
WEBHOOK_TIMEOUT_SECONDS = env.integer("WEBHOOK_TIMEOUT_SECONDS", 5, minimum=1)

# --- metrics (api/metrics.py, docs/operations.md) -------------------------------------------------

# The port on which a worker, beat or the gateway serves its metrics; 0 serves none. The api
# serves them at /metrics on its own port.
METRICS_PORT = env.integer("METRICS_PORT", 0)
# When set, /metrics answers only `Authorization: Bearer <token>` (Prometheus's
# `authorization` setting); unset, it answers anyone (development).
METRICS_TOKEN = env.string("METRICS_TOKEN")

# --- logs: one JSON object a line (api/logs.py) ---------------------------------------------------

# DEBUG also shows the sweeps that found nothing to do and beat's every send.
LOG_LEVEL = env.choice("LOG_LEVEL", "INFO", ["DEBUG", "INFO", "WARNING", "ERROR"])
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {
        "bound_fields": {"()": "api.logs.BoundFields"},
        # A request's path is logged with the secrets in it masked.
        "masked_paths": {"()": "api.logs.MaskedPaths"},
        "beat_sends_at_debug": {
            "()": "api.logs.AtDebug",
            "prefixes": ["Scheduler: Sending due task"],
        },
    },
    "formatters": {"json": {"()": "api.logs.Json"}},
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": "json",
            "filters": ["bound_fields", "masked_paths"],
            "level": LOG_LEVEL,
        }
    },
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {
        "django.db.backends": {"level": "WARNING"},
        # Celery's "received" and "succeeded" lines: workers/logs.py writes one line per task
        # instead, with its ids, at DEBUG for a sweep that did nothing.
        "celery.app.trace": {"level": "WARNING"},
        "celery.worker.strategy": {"level": "WARNING"},
        "celery.beat": {"filters": ["beat_sends_at_debug"]},
    },
}
