"""Typed readers for the environment: a bad value stops start-up with a message."""

import os

from django.core.exceptions import ImproperlyConfigured

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}


def string(name: str, default: str | None = None) -> str | None:
    value = os.environ.get(name)
    return default if value is None or value == "" else value


def boolean(name: str, default: bool) -> bool:
    value = string(name)
    if value is None:
        return default
    if value.lower() in _TRUE:
        return True
    if value.lower() in _FALSE:
        return False
    raise ImproperlyConfigured(f"{name}={value!r} is not a boolean (use on/off, true/false, 1/0).")


def integer(name: str, default: int, minimum: int = 0) -> int:
    value = string(name)
    if value is None:
        return default
    try:
        number = int(value)
    except ValueError:
        raise ImproperlyConfigured(f"{name}={value!r} is not a whole number.") from None
    if number < minimum:
        raise ImproperlyConfigured(f"{name}={value!r} must be at least {minimum}.")
    return number


def listing(name: str, default: list[str]) -> list[str]:
    value = string(name)
    if value is None:
        return default
    return [item.strip() for item in value.split(",") if item.strip()]


def integers(name: str, default: list[int], minimum: int = 0) -> list[int]:
    """A comma-separated list of whole numbers, each at least `minimum`, without repeats."""
    values = set()
    for item in listing(name, [str(value) for value in default]):
        try:
            values.add(int(item))
        except ValueError:
            raise ImproperlyConfigured(f"{name}: {item!r} is not a whole number.") from None
    if any(value < minimum for value in values):
        raise ImproperlyConfigured(f"{name} values must be at least {minimum}.")
    return sorted(values)


def choice(name: str, default: str, choices: list[str]) -> str:
    """One of `choices` (compared in upper case, as log levels are written)."""
    value = (string(name) or default).upper()
    if value not in choices:
        raise ImproperlyConfigured(f"{name}={value!r} must be one of {', '.join(choices)}.")
    return value


_PERIODS = {"s", "sec", "second", "m", "min", "minute", "h", "hour", "d", "day"}


def rate(name: str, default: str) -> str:
    """A rate limit such as `30/min`: a whole number of requests per s, min, hour or day."""
    value = string(name, default)
    count, _, period = value.partition("/")
    if not count.isdigit() or period not in _PERIODS:
        raise ImproperlyConfigured(
            f"{name}={value!r} is not a rate such as 30/min (per s, min, hour or day)."
        )
    return value
