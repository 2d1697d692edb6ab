"""The states of the outbox rows and the transitions between them, written once."""

from django.db import models


class NotificationKind(models.TextChoices):
    BOOKING_CONFIRMED = "booking_confirmed", "Booking confirmed"
    REQUEST_REJECTED = "request_rejected", "Request rejected"
    BOOKING_CANCELLED = "booking_cancelled", "Booking cancelled"
    REMINDER = "reminder", "Reminder"
    ACCESS_PROBLEM = "access_problem", "Access problem"


class Channel(models.TextChoices):
    EMAIL = "email", "Email"


class NotificationState(models.TextChoices):
    """pending → sending → sent; sending → pending (retry) or failed; pending → skipped.

    A row in `sending` is claimed by one worker. A failed send goes back to `pending` with a
    later `next_attempt_at` until the attempts run out, then to `failed`, which an operator sees.
    A row whose reason is gone by the time it is sent (a reminder for a cancelled booking) is
    `skipped`.
    """

    PENDING = "pending"
    SENDING = "sending"
    SENT = "sent"
    FAILED = "failed"
    SKIPPED = "skipped"

    @classmethod
    def open(cls) -> list[str]:
        """States from which the row may still be sent."""
        return [cls.PENDING, cls.SENDING]


class DeliveryState(models.TextChoices):
    """A webhook delivery: pending → sending → delivered, or back to pending, or failed."""

    PENDING = "pending"
    SENDING = "sending"
    DELIVERED = "delivered"
    FAILED = "failed"


class WebhookEvent(models.TextChoices):
    REQUEST_DECIDED = "request.decided"
    BOOKING_CANCELLED = "booking.cancelled"
    BOOKING_CHECKED_IN = "booking.checked_in"
    ACCESS_PROBLEM = "access.problem"
