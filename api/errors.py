"""Error answers: every one with machine-readable codes beside its messages, DRF's views' and
those raised outside them (the body-size limit before DRF sees the request, and Django's 400,
403, 404 and 500, api/urls.py's handlers), as JSON, in the language of the request.

A field's errors keep the contract's shape, `{"end": ["End must be after start."]}`, and their
codes sit beside them under `codes`, shaped alike: `{"codes": {"end": ["end_before_start"]}}`.
An error without a field is `{"detail": "…", "code": "not_found"}`.
"""

from django.conf import settings
from django.http import JsonResponse
from django.utils.translation import gettext as _
from rest_framework import exceptions
from rest_framework.views import exception_handler


def handle(error, context):
    """DRF's exception handler, with the codes added."""
    response = exception_handler(error, context)
    if response is not None and isinstance(error, exceptions.APIException):
        response.data = with_codes(response.data, error.get_codes())
    return response


def with_codes(data, codes):
    if isinstance(data, dict) and set(data) == {"detail"}:
        return {**data, "code": codes.get("detail") if isinstance(codes, dict) else codes}
    if isinstance(data, dict):
        return {**data, "codes": codes}
    return data  # a bare list of messages has no place for them; the API raises none


class LimitBodySize:
    """413 for a body over DATA_UPLOAD_MAX_MEMORY_SIZE, before anything reads it.

    Django enforces that limit only on form parsing; DRF's JSON parser reads the raw stream.
    A chunked body gets its length at the WSGI boundary first (api/wsgi.py).
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        try:
            length = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            length = 0
        if length > settings.DATA_UPLOAD_MAX_MEMORY_SIZE:
            limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
            message = _("The body is larger than %(limit)d bytes.") % {"limit": limit}
            return JsonResponse({"detail": message, "code": "body_too_large"}, status=413)
        return self.get_response(request)


def _answer(error: exceptions.APIException) -> JsonResponse:
    body = {"detail": str(error.detail), "code": error.detail.code}
    return JsonResponse(body, status=error.status_code)


def bad_request(request, exception, *args, **kwargs):
    return _answer(exceptions.ParseError())


def permission_denied(request, exception, *args, **kwargs):
    return _answer(exceptions.PermissionDenied())


def not_found(request, exception, *args, **kwargs):
    return _answer(exceptions.NotFound())


def server_error(request, *args, **kwargs):
    # Says nothing of what failed: the traceback goes to the log, never to the client.
    return _answer(exceptions.APIException())
