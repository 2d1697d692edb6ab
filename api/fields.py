"""Serializer fields shared by every app."""

from datetime import UTC

from django.db import models
from django.utils.dateparse import parse_datetime
from rest_framework import serializers


class InstantField(serializers.DateTimeField):
    """An RFC 3339 instant: an offset is required on input, and output is UTC with `Z`."""

    default_error_messages = {
        "naive": "Give the time with an offset, e.g. 2026-12-01T18:00:00+02:00.",
    }

    def __init__(self, **kwargs):
        super().__init__(default_timezone=UTC, **kwargs)

    def to_internal_value(self, value):
        if isinstance(value, str):
            parsed = parse_datetime(value.strip())
            if parsed is not None and parsed.tzinfo is None:
                self.fail("naive")
        return super().to_internal_value(value)


class ModelSerializer(serializers.ModelSerializer):
    """DRF's ModelSerializer with every datetime as an `InstantField`."""

    serializer_field_mapping = {
        **serializers.ModelSerializer.serializer_field_mapping,
        models.DateTimeField: InstantField,
    }
