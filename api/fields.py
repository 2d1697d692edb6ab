"""Serializer fields shared by every app: the one reading of a time that every field and query
parameter uses, and text checked as api/text.py says."""

import re
from datetime import UTC, datetime

from django.db import models
from django.utils.dateparse import parse_datetime
from django.utils.translation import gettext_lazy as _
from rest_framework import serializers

from api.text import validate_one_line, validate_text

# Times outside these are refused: nothing is booked before 1970, and the end of year 9998
# leaves room for the arithmetic (buffers, grace, calendars a year around) before year 10000.
EARLIEST = datetime(1970, 1, 1, tzinfo=UTC)
LATEST = datetime(9999, 1, 1, tzinfo=UTC)

# The minutes of an offset at the end of a time: Python takes "+01:75" as 2 h 15 min.
OFFSET_MINUTES = re.compile(r"[+-]\d{2}:?(\d{2})$")

INSTANT_ERRORS = {
    "invalid": _("Use an RFC 3339 time, e.g. 2026-12-01T18:00:00+02:00."),
    "impossible": _("There is no such date, time or offset."),
    "naive": _("Give the time with an offset, e.g. 2026-12-01T18:00:00+02:00."),
    "out_of_range": _("Give a time from 1970 to 9998."),
}


class BadInstant(ValueError):
    """A time the API does not take; `code` is a key of INSTANT_ERRORS."""

    def __init__(self, code: str):
        super().__init__(INSTANT_ERRORS[code])
        self.code = code


def parse_instant(text: str) -> datetime:
    """An RFC 3339 time with an offset, as UTC; BadInstant when it is not one we take."""
    text = text.strip()
    try:
        parsed = parse_datetime(text)
    except ValueError:  # well formed, but a 13th month, a 30 February or an offset of +99:00
        raise BadInstant("impossible") from None
    offset = OFFSET_MINUTES.search(text)
    if offset and int(offset[1]) >= 60:
        raise BadInstant("impossible")
    if parsed is None:
        raise BadInstant("invalid")
    if parsed.tzinfo is None:
        raise BadInstant("naive")
    try:
        instant = parsed.astimezone(UTC)
    except OverflowError:  # 0001-01-01T00:30+01:00 is in year 0 in UTC
        raise BadInstant("out_of_range") from None
    if not EARLIEST <= instant < LATEST:
        raise BadInstant("out_of_range")
    return instant


class InstantField(serializers.DateTimeField):
    """An RFC 3339 instant: an offset is required on input, and output is UTC with `Z`."""

    default_error_messages = INSTANT_ERRORS

    def __init__(self, **kwargs):
        super().__init__(default_timezone=UTC, **kwargs)

    def to_internal_value(self, value):
        if not isinstance(value, str):
            return super().to_internal_value(value)
        try:
            return parse_instant(value)
        except BadInstant as error:
            self.fail(error.code)


class OneLineField(serializers.CharField):
    """Text on one line: a name, an address, a label (api/text.py)."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.validators.append(validate_one_line)


class FreeTextField(serializers.CharField):
    """Text that may run over lines, without control characters: a description, a purpose."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.validators.append(validate_text)


class ModelSerializer(serializers.ModelSerializer):
    """DRF's ModelSerializer with every datetime as an `InstantField`, and text checked: a
    CharField on one line, a TextField without control characters."""

    serializer_field_mapping = {
        **serializers.ModelSerializer.serializer_field_mapping,
        models.DateTimeField: InstantField,
        models.CharField: OneLineField,
        models.TextField: FreeTextField,
    }
