import uuid

from django.conf import settings
from django.contrib.postgres.constraints import ExclusionConstraint
from django.contrib.postgres.fields import ArrayField, DateTimeRangeField, RangeOperators
from django.db import models
from django.db.backends.postgresql.psycopg_any import DateTimeTZRange

from api.bookings.choices import BookingStatus, RejectReason, RequestStatus
from api.catalogue.models import Activity, Space


class FlexibleCriteria(models.Model):
    """What a flexible request asks for instead of a space and a time: any space for the
    activity and the party, `duration_minutes` long, inside [window_start, window_end), and
    optionally in a district, near a point, with equipment. api/bookings/search.py turns it
    into a `SlotQuery` and finds the offers, best first."""

    window_start = models.DateTimeField(null=True, blank=True)
    window_end = models.DateTimeField(null=True, blank=True)
    duration_minutes = models.PositiveIntegerField(null=True, blank=True)
    # NULL, not "": the API shows a district not asked for as null.
    district = models.CharField(max_length=100, null=True, blank=True)  # noqa: DJ001
    near_latitude = models.FloatField(null=True, blank=True)
    near_longitude = models.FloatField(null=True, blank=True)
    radius_km = models.FloatField(null=True, blank=True)
    equipment = ArrayField(models.CharField(max_length=60), default=list, blank=True)

    class Meta:
        abstract = True

    @property
    def is_flexible(self) -> bool:
        return self.window_start is not None


class BookingRequest(FlexibleCriteria):
    """What a person asked for; a worker decides it exactly once.

    A direct request names the space and the times; a flexible one gives its criteria
    (`FlexibleCriteria`), and the space and times are those of the booking it was given.
    """

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    # NULL once the person is erased or the request is past retention (api/privacy).
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="booking_requests",
    )
    space = models.ForeignKey(
        Space, on_delete=models.PROTECT, related_name="requests", null=True, blank=True
    )
    start = models.DateTimeField(null=True, blank=True)
    end = models.DateTimeField(null=True, blank=True)
    party_size = models.PositiveIntegerField()
    activity = models.ForeignKey(Activity, on_delete=models.PROTECT, null=True, blank=True)
    purpose = models.CharField(max_length=500, blank=True)
    # NULL, not "": requests without a key must not collide in the unique constraint.
    idempotency_key = models.CharField(max_length=255, null=True, blank=True)  # noqa: DJ001
    # SHA-256 of what was asked for (services.fingerprint): a retry with the key must match it.
    # Empty on rows from before it was kept.
    fingerprint = models.CharField(max_length=64, blank=True, db_default="", editable=False)
    status = models.CharField(
        max_length=20, choices=RequestStatus.choices, default=RequestStatus.PENDING
    )
    # The API shows `"reason": null` until a rejection, so NULL it is.
    reason = models.CharField(  # noqa: DJ001
        max_length=40, choices=RejectReason.choices, null=True, blank=True
    )
    created_at = models.DateTimeField(auto_now_add=True)
    # When the request was last put on the queue: the sweeper re-queues what stays pending.
    queued_at = models.DateTimeField(auto_now_add=True)
    decided_at = models.DateTimeField(null=True, blank=True)

    organisation_path = "space__venue__organisation"

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["user", "idempotency_key"],
                condition=models.Q(idempotency_key__isnull=False),
                name="booking_request_idempotency_key",
            ),
            models.CheckConstraint(
                condition=models.Q(
                    window_start__isnull=True,
                    space__isnull=False,
                    start__isnull=False,
                    end__isnull=False,
                )
                | models.Q(
                    window_start__isnull=False,
                    window_end__isnull=False,
                    duration_minutes__isnull=False,
                    activity__isnull=False,
                ),
                name="booking_request_direct_or_flexible",
            ),
        ]
        indexes = [
            models.Index(
                fields=["queued_at"],
                condition=models.Q(status=RequestStatus.PENDING),
                name="booking_request_pending",
            ),
            # The retention sweep's (api/privacy): requests that still name their person.
            models.Index(
                fields=["created_at"],
                condition=models.Q(user__isnull=False),
                name="booking_request_with_person",
            ),
        ]

    def __str__(self):
        return f"{self.id} ({self.status})"


class Booking(models.Model):
    space = models.ForeignKey(Space, on_delete=models.PROTECT, related_name="bookings")
    # NULL once the person is erased or the booking is past retention: kept for statistics.
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="bookings",
    )
    request = models.OneToOneField(
        BookingRequest, on_delete=models.PROTECT, related_name="booking", null=True, blank=True
    )
    start = models.DateTimeField()
    end = models.DateTimeField()
    # [start, end + buffer): two bookings of a space with the same buffer keep at least the
    # buffer between them exactly when these ranges do not overlap (half-open, so
    # back-to-back bookings fit).
    blocked = DateTimeRangeField()
    party_size = models.PositiveIntegerField()
    activity = models.ForeignKey(Activity, on_delete=models.PROTECT, null=True, blank=True)
    status = models.CharField(
        max_length=20, choices=BookingStatus.choices, default=BookingStatus.CONFIRMED
    )
    checked_in_at = models.DateTimeField(null=True, blank=True)
    cancelled_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    organisation_path = "space__venue__organisation"

    class Meta:
        ordering = ["start", "id"]
        constraints = [
            ExclusionConstraint(
                name="booking_no_overlap",
                expressions=[("space", RangeOperators.EQUAL), ("blocked", RangeOperators.OVERLAPS)],
                condition=models.Q(status__in=BookingStatus.live()),
            ),
            models.CheckConstraint(
                condition=models.Q(end__gt=models.F("start")), name="booking_end_after_start"
            ),
        ]
        indexes = [
            models.Index(fields=["user", "end"]),
            models.Index(fields=["status", "end"]),
            # The reminder sweep finds confirmed bookings by their start.
            models.Index(fields=["status", "start"]),
            # The retention sweep's (api/privacy): bookings that still name their person.
            models.Index(
                fields=["end"], condition=models.Q(user__isnull=False), name="booking_with_person"
            ),
        ]

    def __str__(self):
        return f"#{self.pk} {self.space_id} {self.start:%Y-%m-%d %H:%M}"

    def save(self, *args, **kwargs):
        self.blocked = DateTimeTZRange(self.start, self.end + self.space.buffer, "[)")
        super().save(*args, **kwargs)
