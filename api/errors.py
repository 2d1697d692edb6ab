"""Errors answered outside DRF's views, as JSON like DRF's own: the body-size limit raised
before DRF sees the request, and Django's 400, 403, 404 and 500 (api/urls.py's handlers)."""

from django.conf import settings
from django.http import JsonResponse
from rest_framework import exceptions


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
            return JsonResponse({"detail": f"The body is larger than {limit} bytes."}, status=413)
        return self.get_response(request)


def _answer(error: exceptions.APIException) -> JsonResponse:
    return JsonResponse({"detail": str(error.detail)}, status=error.status_code)


def bad_request(request, exception, *args, **kwargs):
    return _answer(exceptions.ParseError())


def permission_denied(request, exception, *args, **kwargs):
    return _answer(exceptions.PermissionDenied())


def not_found(request, exception, *args, **kwargs):
    return _answer(exceptions.NotFound())


def server_error(request, *args, **kwargs):
    # Says nothing of what failed: the traceback goes to the log, never to the client.
    return _answer(exceptions.APIException())
