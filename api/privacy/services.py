"""A person's data: everything kept about them (export), their erasure, and retention.

The export is generic: for each model in EXPORTED, the person's rows with every concrete field
but those named in PRIVATE (each with its reason), so a field added to a model is exported
unless it is declared here (tests/privacy/test_export.py holds every model that refers to a
person to this). Erasure and the retention sweep keep bookings for statistics, without the
person: the booking's `user`, the request's person and free text go; door codes go with their
grant's withdrawal (api/access/services.py, _withdraw).
"""

from datetime import datetime

from dateutil.relativedelta import relativedelta
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from api.access.models import Grant, LockCommand
from api.accounts.models import User
from api.audit.models import AuditEntry
from api.bookings import services as bookings
from api.bookings.choices import BookingStatus, RequestStatus
from api.bookings.models import Booking, BookingRequest, BookingSeries, WaitlistEntry
from api.notifications.models import Notification, Webhook
from api.organisations.models import Membership

# What the export holds: a key, the model, and the lookup from its rows to the person.
EXPORTED = {
    "account": (User, "pk"),
    "requests": (BookingRequest, "user"),
    "bookings": (Booking, "user"),
    "series": (BookingSeries, "user"),
    "waitlist": (WaitlistEntry, "user"),
    "access": (Grant, "booking__user"),
    "notifications": (Notification, "recipient"),
    "organisations": (Membership, "user"),
    "lock_commands": (LockCommand, "requested_by"),
    "webhooks": (Webhook, "created_by"),
    "audit": (AuditEntry, "actor"),
}

# Fields left out of the export, and why.
PRIVATE = {
    User: {
        "password": "a hash of the password, which the person knows",
        "calendar_token": "a hash of the feed's secret, which the person holds",
        "groups": "Django's permission groups, unused",
        "user_permissions": "Django's permissions, unused",
    },
    BookingRequest: {"fingerprint": "a hash of the request's own fields, exported as they are"},
    Booking: {"blocked": "start to end plus the space's buffer: derived from start and end"},
    Notification: {"claim": "a worker's claim on the row while sending it"},
    Webhook: {"secret": "the webhook's signing secret, the organisation's and not the person's"},
}

# Models that refer to a person and are not exported, and why.
NOT_EXPORTED = {
    "authtoken.Token": "the API token: a credential, erased with the account",
    "admin.LogEntry": "the admin's own history of what a city-wide operator changed",
}


def export(user: User) -> dict:
    """Everything stored about the person, as JSON-ready data."""
    found = {}
    for key, (model, lookup) in EXPORTED.items():
        rows = [_row(row) for row in model.objects.filter(**{lookup: user.pk}).order_by("pk")]
        found[key] = rows[0] if key == "account" else rows
    return found


def exported_fields(model) -> list[str]:
    private = PRIVATE.get(model, {})
    return [
        field.name
        for field in model._meta.get_fields()
        if field.concrete and field.name not in private
    ]


def _row(row) -> dict:
    data = {}
    for name in exported_fields(type(row)):
        field = row._meta.get_field(name)
        if field.many_to_many:
            data[name] = [str(related) for related in getattr(row, name).all()]
        elif field.is_relation:
            data[name] = getattr(row, field.attname)
        else:
            data[name] = getattr(row, name)
    return data


def erase(user: User) -> None:
    """Erase the person: requests not yet decided go, bookings not yet over are cancelled
    (their grants withdrawn, as any cancellation does), the rest are kept without them; then
    the account goes, and with it their notifications, memberships and token."""
    # First, so that a request being decided right now (its row locked by allocate()) is
    # waited for and its booking then cancelled below; a deleted one is never decided.
    BookingRequest.objects.filter(
        user=user, status=RequestStatus.PENDING, booking__isnull=True
    ).delete()
    now = timezone.now()
    for booking in Booking.objects.filter(
        user=user, status=BookingStatus.CONFIRMED, end__gt=now
    ).order_by("pk"):
        bookings.cancel_booking(booking)
    with transaction.atomic():
        anonymise(Booking.objects.filter(user=user), BookingRequest.objects.filter(user=user))
        # The person's series go with the account; the occurrences kept for statistics leave
        # them first (deleting a series would take its requests, which bookings keep).
        BookingRequest.objects.filter(series__user=user).update(series=None)
        # Deleted first, so that the audit entries of their removal exist when the account's
        # deletion leaves every entry of theirs without the person.
        Membership.objects.filter(user=user).delete()
        AuditEntry.objects.filter(actor=user).update(actor_email=None)
        user.delete()


def retention_sweep(now: datetime | None = None) -> int:
    """Bookings that ended RETENTION_MONTHS ago keep no person; returns how many lost one."""
    cutoff = (now or timezone.now()) - relativedelta(months=settings.RETENTION_MONTHS)
    with transaction.atomic():
        old = Booking.objects.filter(end__lt=cutoff, user__isnull=False)
        requests = BookingRequest.objects.filter(created_at__lt=cutoff, user__isnull=False)
        Notification.objects.filter(created_at__lt=cutoff).delete()
        return anonymise(old, requests)


def anonymise(booking_rows, request_rows) -> int:
    """Strip the person from bookings and requests, in two statements."""
    Grant.objects.filter(booking__in=booking_rows).exclude(code="").update(code="")
    request_rows.update(
        user=None,
        purpose="",
        idempotency_key=None,
        near_latitude=None,
        near_longitude=None,
    )
    return booking_rows.update(user=None)
