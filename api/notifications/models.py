import json
import uuid
from datetime import timedelta

from django.conf import settings
from django.contrib.postgres.fields import ArrayField
from django.db import models
from django.utils import timezone

from api.accounts.choices import Language
from api.notifications.choices import (
    Channel,
    DeliveryState,
    NotificationKind,
    NotificationState,
    WebhookEvent,
)


def backoff(attempts: int, base: int, cap: int) -> timedelta:
    """The wait before attempt `attempts + 1`: base, 2·base, 4·base, … at most `cap` seconds."""
    return timedelta(seconds=min(cap, base * 2 ** max(0, attempts - 1)))


class Notification(models.Model):
    """One message to one person: the outbox row, written in the transaction of its event.

    The unique constraints make a repeated event (a redelivered task, a second cancel, a sweep
    run twice) write nothing new, so nothing is ever sent twice for one reason.
    """

    recipient = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notifications"
    )
    kind = models.CharField(max_length=30, choices=NotificationKind.choices)
    # Only reminders have one: how long before the start it is due, so 24 h and 2 h are two rows.
    reminder_minutes = models.PositiveIntegerField(default=0)
    language = models.CharField(max_length=2, choices=Language.choices)
    channel = models.CharField(max_length=10, choices=Channel.choices, default=Channel.EMAIL)
    booking = models.ForeignKey(
        "bookings.Booking",
        on_delete=models.CASCADE,
        related_name="notifications",
        null=True,
        blank=True,
    )
    # A rejected request has no booking: its notification hangs on the request.
    request = models.ForeignKey(
        "bookings.BookingRequest",
        on_delete=models.CASCADE,
        related_name="notifications",
        null=True,
        blank=True,
    )
    state = models.CharField(
        max_length=10, choices=NotificationState.choices, default=NotificationState.PENDING
    )
    attempts = models.PositiveIntegerField(default=0)
    last_error = models.TextField(blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    # When a pending row is due; the sweeper queues again what stays pending well after it.
    next_attempt_at = models.DateTimeField(default=timezone.now)
    # Who holds a row in `sending`, and since when: a worker that dies leaves it there.
    claimed_at = models.DateTimeField(null=True, blank=True)
    claim = models.UUIDField(null=True, blank=True, editable=False)
    sent_at = models.DateTimeField(null=True, blank=True)

    organisation_path = (
        "booking__space__venue__organisation",
        "request__space__venue__organisation",
    )

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["booking", "kind", "reminder_minutes", "recipient"],
                condition=models.Q(booking__isnull=False),
                name="notification_once_per_booking",
            ),
            models.UniqueConstraint(
                fields=["request", "kind", "recipient"],
                condition=models.Q(booking__isnull=True, request__isnull=False),
                name="notification_once_per_request",
            ),
            models.CheckConstraint(
                condition=models.Q(booking__isnull=False) | models.Q(request__isnull=False),
                name="notification_has_a_subject",
            ),
        ]
        indexes = [
            models.Index(
                fields=["next_attempt_at"],
                condition=models.Q(state=NotificationState.PENDING),
                name="notification_pending_due",
            ),
            models.Index(
                fields=["claimed_at"],
                condition=models.Q(state=NotificationState.SENDING),
                name="notification_sending_since",
            ),
            models.Index(
                fields=["-created_at"],
                condition=models.Q(state=NotificationState.FAILED),
                name="notification_failed",
            ),
            # The retention sweep (api/privacy) deletes the old ones.
            models.Index(fields=["created_at"], name="notification_created"),
        ]

    def __str__(self):
        return f"{self.kind} to {self.recipient_id} ({self.state})"

    @property
    def message_id(self) -> str:
        """The same Message-ID on every attempt, so a mail client can drop a duplicate."""
        domain = settings.DEFAULT_FROM_EMAIL.rpartition("@")[2].strip(" >") or "flexispace"
        return f"<notification-{self.pk}@{domain}>"

    def record_failure(self, error: str, permanent: bool = False) -> timedelta | None:
        """Back to pending with a later due time, or failed; the wait, when there is one."""
        self.last_error = error[:2000]
        self.claim = None
        if permanent or self.attempts >= settings.NOTIFICATION_MAX_ATTEMPTS:
            self.state = NotificationState.FAILED
            return None
        wait = backoff(
            self.attempts,
            settings.NOTIFICATION_RETRY_BASE_SECONDS,
            settings.NOTIFICATION_RETRY_MAX_SECONDS,
        )
        self.state = NotificationState.PENDING
        self.next_attempt_at = timezone.now() + wait
        return wait


class Webhook(models.Model):
    """An operator's endpoint for booking events: those of its organisation's venues, or of
    every venue for a city-wide one (no organisation, made by a city-wide operator)."""

    organisation = models.ForeignKey(
        "organisations.Organisation",
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="webhooks",
    )
    url = models.URLField(max_length=500)
    secret = models.CharField(max_length=200)
    events = ArrayField(models.CharField(max_length=40, choices=WebhookEvent.choices))
    active = models.BooleanField(default=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True
    )
    created_at = models.DateTimeField(auto_now_add=True)

    organisation_path = "organisation"

    class Meta:
        ordering = ["id"]

    def __str__(self):
        return self.url


class WebhookDelivery(models.Model):
    """One event to one webhook; the body and its `id` stay the same on every attempt."""

    webhook = models.ForeignKey(Webhook, on_delete=models.CASCADE, related_name="deliveries")
    event = models.CharField(max_length=40, choices=WebhookEvent.choices)
    event_id = models.UUIDField(default=uuid.uuid4)
    # The exact JSON that is signed and sent, kept as text so every attempt sends the same bytes.
    body = models.TextField()
    state = models.CharField(
        max_length=10, choices=DeliveryState.choices, default=DeliveryState.PENDING
    )
    attempts = models.PositiveIntegerField(default=0)
    last_status = models.PositiveIntegerField(null=True, blank=True)
    last_error = models.TextField(blank=True)
    last_attempt_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    next_attempt_at = models.DateTimeField(default=timezone.now)
    claimed_at = models.DateTimeField(null=True, blank=True)
    claim = models.UUIDField(null=True, blank=True, editable=False)
    delivered_at = models.DateTimeField(null=True, blank=True)

    organisation_path = "webhook__organisation"

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name_plural = "webhook deliveries"
        constraints = [
            models.UniqueConstraint(fields=["webhook", "event_id"], name="delivery_once_per_event")
        ]
        indexes = [
            models.Index(
                fields=["next_attempt_at"],
                condition=models.Q(state=DeliveryState.PENDING),
                name="delivery_pending_due",
            ),
            models.Index(
                fields=["claimed_at"],
                condition=models.Q(state=DeliveryState.SENDING),
                name="delivery_sending_since",
            ),
        ]

    def __str__(self):
        return f"{self.event} {self.event_id} → {self.webhook_id} ({self.state})"

    @property
    def payload_json(self) -> dict:
        return json.loads(self.body)

    def record_failure(self, error: str, status: int | None = None) -> timedelta | None:
        self.last_error = error[:2000]
        self.last_status = status
        self.claim = None
        if self.attempts >= settings.WEBHOOK_MAX_ATTEMPTS:
            self.state = DeliveryState.FAILED
            return None
        wait = backoff(
            self.attempts, settings.WEBHOOK_RETRY_BASE_SECONDS, settings.WEBHOOK_RETRY_MAX_SECONDS
        )
        self.state = DeliveryState.PENDING
        self.next_attempt_at = timezone.now() + wait
        return wait
