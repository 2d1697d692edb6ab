"""Errors raised before DRF sees the request, answered as JSON like DRF's own."""

from django.conf import settings
from django.http import JsonResponse


class LimitBodySize:
    """413 for a body over DATA_UPLOAD_MAX_MEMORY_SIZE, before anything reads it.

    Django enforces that limit only on form parsing; DRF's JSON parser reads the raw stream.
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
