"""Request middleware shared by every view."""

from django.conf import settings


class PublicUrl:
    """Absolute URLs built from a request start with PUBLIC_URL, not with its Host header.

    Django and DRF build them with `request.build_absolute_uri()` (pagination links, the API
    root, the calendar feed's address), which joins this origin, cached on the request, with
    the path; a client that sends another Host cannot put its own address into them.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        request._current_scheme_host = settings.PUBLIC_URL
        return self.get_response(request)
