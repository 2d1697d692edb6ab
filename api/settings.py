"""FlexiSpace settings: every knob an operator may turn is read from the environment."""

from datetime import timedelta
from pathlib import Path

import dj_database_url

import beat.schedule
from api import embedded, env

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = BASE_DIR / "var"

SECRET_KEY = env.string("SECRET_KEY", "dev-only-secret-key-change-me-in-production-0123456789")
DEBUG = env.boolean("DEBUG", True)
ALLOWED_HOSTS = env.listing("ALLOWED_HOSTS", ["*"])
TIME_ZONE = env.string("TIME_ZONE", "Europe/Helsinki")
USE_TZ = True
USE_I18N = True
LANGUAGE_CODE = "fi"
LANGUAGES = [("fi", "Suomi"), ("sv", "Svenska"), ("en", "English")]

INSTALLED_APPS = [
    "django.contrib.admin",
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
    "django_celery_beat",
    "api.accounts",
    "api.catalogue",
    "api.bookings",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "api.errors.LimitBodySize",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
]

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

# --- services: an unset URL means the embedded server; a set one is used as it is -------------

DATABASE_URL = env.string("DATABASE_URL") or embedded.database_url(VAR_DIR)
REDIS_URL = env.string("REDIS_URL") or embedded.redis_url(VAR_DIR)
MQTT_URL = env.string("MQTT_URL") or embedded.mqtt_url(VAR_DIR)
MQTT_TOPIC_ROOT = env.string("MQTT_TOPIC_ROOT", "flexispace/v1")
# Keeps one test run's or benchmark's cache keys and queues apart from another's on shared
# servers (the database and MQTT_TOPIC_ROOT are set apart the usual way).
NAMESPACE = env.string("FLEXISPACE_NAMESPACE", "flexispace")

DATABASES = {
    # Persistent connections: a new connection per request costs more than the request itself.
    "default": dj_database_url.parse(DATABASE_URL, conn_max_age=600, conn_health_checks=True)
}

CACHES = {
    "default": {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": REDIS_URL,
        "KEY_PREFIX": NAMESPACE,
    }
}

# --- Celery -----------------------------------------------------------------------------------

CELERY_BROKER_URL = REDIS_URL
CELERY_BROKER_TRANSPORT_OPTIONS = {
    # A task not acknowledged within this time is handed to another worker. It must exceed the
    # longest task; the pending-request sweeper covers what is lost beyond that.
    "visibility_timeout": 3600,
    "global_keyprefix": f"{NAMESPACE}:",
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
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"
CELERY_BEAT_SCHEDULE = beat.schedule.SCHEDULE
CELERY_TIMEZONE = "UTC"

# --- Django REST framework --------------------------------------------------------------------

THROTTLING = env.boolean("THROTTLING", True)
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": ["rest_framework.authentication.TokenAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_PARSER_CLASSES": ["rest_framework.parsers.JSONParser"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PAGINATION_CLASS": "rest_framework.pagination.PageNumberPagination",
    "PAGE_SIZE": 50,
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
}
DATA_UPLOAD_MAX_MEMORY_SIZE = 64 * 1024

SPECTACULAR_SETTINGS = {
    "TITLE": "FlexiSpace API",
    "DESCRIPTION": "Find a free space by activity, book it, get in with a smart-lock code.",
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    "COMPONENT_SPLIT_REQUEST": True,
}

# --- booking rules ----------------------------------------------------------------------------

# Booking requests one person may make, e.g. "30/min" (429 with Retry-After beyond it).
BOOKING_REQUEST_RATE = env.string("BOOKING_REQUEST_RATE", "30/min")
# How many confirmed bookings that have not yet ended one person may hold.
MAX_ACTIVE_BOOKINGS_PER_USER = env.integer("MAX_ACTIVE_BOOKINGS_PER_USER", 10, minimum=1)
# A request still pending this long after it was queued is queued again by the sweeper.
BOOKING_REQUEUE_AFTER = timedelta(seconds=env.integer("BOOKING_REQUEUE_AFTER_SECONDS", 30))
AVAILABILITY_MAX_DAYS = 31

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": "INFO"},
    "loggers": {"django.db.backends": {"level": "WARNING"}},
}
