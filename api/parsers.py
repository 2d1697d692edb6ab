"""The API's JSON parser: DRF's, refusing nesting deeper than any request needs.

Python's decoder fails on deep nesting with a RecursionError (a 500), and a structure just
under its limit fails later, where a serializer field prints or walks it. No request of the
API nests more than a few levels, so anything beyond MAX_DEPTH is refused as it is parsed.
"""

from django.utils.translation import gettext_lazy as _
from rest_framework import parsers
from rest_framework.exceptions import ParseError

MAX_DEPTH = 32


class JSONParser(parsers.JSONParser):
    def parse(self, stream, media_type=None, parser_context=None):
        try:
            data = super().parse(stream, media_type, parser_context)
        except RecursionError:
            raise _too_deep() from None
        if _deeper_than(data, MAX_DEPTH):
            raise _too_deep()
        return data


def _too_deep() -> ParseError:
    return ParseError(
        _("The JSON is nested deeper than %(depth)d levels.") % {"depth": MAX_DEPTH},
        code="too_deep",
    )


def _deeper_than(data, limit: int) -> bool:
    # A loop, not recursion, so that the check itself cannot run out of stack.
    stack = [(data, 1)]
    while stack:
        value, depth = stack.pop()
        if isinstance(value, dict):
            value = value.values()
        elif not isinstance(value, list):
            continue
        if depth > limit:
            return True
        stack.extend((child, depth + 1) for child in value)
    return False
