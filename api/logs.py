"""Structured logs: one JSON object a line, carrying the ids of what the line is about.

Every process logs through the settings' LOGGING (the Celery processes too, workers/logs.py;
gunicorn through api/ops/gunicorn.py): `time` (UTC), `level`, `logger`, `message`, and as
fields of their own the ids a caller passes in `extra` (`request_id`, `booking_id`,
`grant_id`, `lock_id`, …) or binds for a stretch of work with `bind()` (a Celery task binds its
arguments, which are ids). Imported by gunicorn before Django, so it does not import Django.
"""

import contextvars
import logging
import re
from datetime import UTC, datetime

from pythonjsonlogger.core import RESERVED_ATTRS
from pythonjsonlogger.json import JsonFormatter

# /api/v1/calendar/{token}.ics: the token is the feed's only credential.
SECRET_PATHS = re.compile(r"^(/api/v1/calendar/)[^/.]+")

_bound: contextvars.ContextVar[dict | None] = contextvars.ContextVar("log_fields", default=None)


def bind(**fields) -> contextvars.Token:
    """Add fields to every line this thread logs until `unbind(token)`."""
    return _bound.set({**(_bound.get() or {}), **fields})


def unbind(token: contextvars.Token) -> None:
    _bound.reset(token)


class BoundFields(logging.Filter):
    """Puts the bound fields on each record; a field the caller passed in `extra` wins."""

    def filter(self, record: logging.LogRecord) -> bool:
        for key, value in (_bound.get() or {}).items():
            record.__dict__.setdefault(key, value)
        return True


def masked(path: str) -> str:
    """A request path as logs show it: a personal calendar feed's secret cut out."""
    return SECRET_PATHS.sub(r"\1{token}", path)


class MaskedPaths(logging.Filter):
    """A record about a request (Django's "Not Found: /path", say) shows its path masked."""

    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(record, "request", None) is not None and isinstance(record.args, tuple):
            record.args = tuple(masked(a) if isinstance(a, str) else a for a in record.args)
        return True


class AtDebug(logging.Filter):
    """Lowers to DEBUG the records whose message starts with one of `prefixes`.

    On a logger, before its handlers compare levels: beat announces each due task, every 2 s.
    """

    def __init__(self, prefixes=()):
        super().__init__()
        self.prefixes = tuple(prefixes)

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.msg, str) and record.msg.startswith(self.prefixes):
            record.levelno, record.levelname = logging.DEBUG, "DEBUG"
        return True


class Json(JsonFormatter):
    """`{"time", "level", "logger", "message", …extra fields}` on one line."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("rename_fields", {"levelname": "level", "name": "logger"})
        # Left out: the request Django puts on its 4xx and 5xx records (its repr shows the query
        # string), and the `data` Celery puts on a failure's (the traceback a second time).
        kwargs.setdefault("reserved_attrs", [*RESERVED_ATTRS, "request", "data"])
        super().__init__("%(levelname)s %(name)s %(message)s", *args, **kwargs)

    def add_fields(self, log_data, record, message_dict) -> None:
        moment = datetime.fromtimestamp(record.created, UTC)
        log_data["time"] = moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")
        super().add_fields(log_data, record, message_dict)
