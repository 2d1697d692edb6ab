"""The API's JSON parser: DRF's, refusing what no request needs and nothing could store.

Python's decoder fails on deep nesting with a RecursionError (a 500), and a structure just
under its limit fails later, where a serializer field prints or walks it: nothing beyond
MAX_DEPTH is taken. A NUL character cannot be stored in PostgreSQL text, nor compared with
it, and a lone surrogate (`"\\ud800"`) cannot be written out as UTF-8, not even in the error
that quotes it back: a string holding either is refused here, naming its field, before any
field looks it up.
"""

import re

from django.utils.translation import gettext_lazy as _
from rest_framework import parsers
from rest_framework.exceptions import ErrorDetail, ParseError, ValidationError

MAX_DEPTH = 32


class JSONParser(parsers.JSONParser):
    def parse(self, stream, media_type=None, parser_context=None):
        try:
            data = super().parse(stream, media_type, parser_context)
        except RecursionError:
            raise _too_deep() from None
        _check(data)
        return data


def _too_deep() -> ParseError:
    return ParseError(
        _("The JSON is nested deeper than %(depth)d levels.") % {"depth": MAX_DEPTH},
        code="too_deep",
    )


def _check(data) -> None:
    # A loop, not recursion, so that the check itself cannot run out of stack. Each value
    # goes with the top-level field it is under, for an error to name.
    stack = [(data, 1, None)]
    while stack:
        value, depth, field = stack.pop()
        if isinstance(value, str):
            if _UNSTORABLE.search(value):
                raise _unstorable(field)
        elif isinstance(value, dict | list):
            if depth > MAX_DEPTH:
                raise _too_deep()
            if isinstance(value, list):
                stack.extend((child, depth + 1, field) for child in value)
                continue
            for key, child in value.items():
                name = key if field is None else field
                stack.append((key, depth, name))
                stack.append((child, depth + 1, name))


_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")


def _unstorable(field: str | None) -> ValidationError:
    message = _("Remove the NUL characters and unpaired surrogates.")
    error = ErrorDetail(message, code="unstorable")
    return ValidationError({field or "non_field_errors": [error]})
