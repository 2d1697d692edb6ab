from auditlog.context import set_actor
from django.utils.functional import SimpleLazyObject


class AuditActorMiddleware:
    """The person behind a request, for the audit trail's `actor`.

    Read when an entry is written rather than when the request arrives, as auditlog's own
    middleware does: an API request's person is known only once Django REST framework has
    checked its token (which then sets the Django request's `user` too)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        with set_actor(SimpleLazyObject(lambda: _person(request))):
            return self.get_response(request)


def _person(request):
    user = getattr(request, "user", None)
    return user if user is not None and user.is_authenticated else None
