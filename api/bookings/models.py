import uuid

from django.conf import settings
from django.contrib.postgres.constraints import ExclusionConstraint
from django.contrib.postgres.fields import ArrayField, DateTimeRangeField, RangeOperators
from django.db import models
from django.db.backends.postgresql.psycopg_any import DateTimeTZRange

from api.bookings.choices import BookingStatus, RejectReason, RequestStatus, WaitlistStatus
from api.catalogue.models import Activity, Space, Venue


def direct_or_flexible(name: str) -> models.CheckConstraint:
    """A row that asks for a space and times, or for any space by the criteria (an activity,
    a window and a duration): a request, or a place on the waitlist."""
    return models.CheckConstraint(
        condition=models.Q(
            window_start__isnull=True, space__isnull=False, start__isnull=False, end__isnull=False
        )
        | models.Q(
            window_start__isnull=False,
            window_end__isnull=False,
            duration_minutes__isnull=False,
            activity__isnull=False,
        ),
        name=name,
    )


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


class BookingSeries(models.Model):
    """A space on some weekdays at one local wall-clock time, every week between two local
    dates. Each occurrence is a direct BookingRequest of its own (`occurrences`), decided by
    allocate() like any other, so it gets its own booking, grant, reminders and calendar."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="booking_series"
    )
    space = models.ForeignKey(Space, on_delete=models.PROTECT, related_name="series")
    weekdays = ArrayField(models.PositiveSmallIntegerField())
    # Minutes after local midnight in the venue's zone, as opening hours are kept.
    start_minute = models.PositiveSmallIntegerField()
    end_minute = models.PositiveSmallIntegerField()
    first_date = models.DateField()
    last_date = models.DateField()
    party_size = models.PositiveIntegerField()
    activity = models.ForeignKey(Activity, on_delete=models.PROTECT, null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    cancelled_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self):
        return f"series {self.id}"


class ReleaseWindowQuerySet(models.QuerySet):
    def undrawn_for(self, space: Space) -> "ReleaseWindowQuerySet":
        """The windows not drawn yet that cover the space: of its venue, naming the space or
        no space at all (the whole venue)."""
        return self.filter(
            models.Q(spaces=space) | models.Q(spaces__isnull=True),
            venue_id=space.venue_id,
            drawn_at__isnull=True,
        )

    def collecting(self, space: Space, start, now) -> "ReleaseWindow | None":
        """The window whose collection is open at `now` for a booking of the space that starts
        at `start`: one not drawn that covers the space, with `start` in its period. The
        earliest to close, should two overlap."""
        return (
            self.undrawn_for(space)
            .filter(
                collect_from__lte=now,
                collect_until__gt=now,
                period_start__lte=start,
                period_end__gt=start,
            )
            .order_by("collect_until", "id")
            .first()
        )


class ReleaseWindow(models.Model):
    """A booking period opened with a collection window: direct requests for the venue's spaces
    (or only `spaces`) that start in [period_start, period_end) and arrive in
    [collect_from, collect_until) wait, and are decided together by the lottery when it closes
    (api/bookings/lottery.py, docs/fair-use.md). The seed and the order drawn are kept."""

    venue = models.ForeignKey(Venue, on_delete=models.CASCADE, related_name="release_windows")
    spaces = models.ManyToManyField(Space, related_name="release_windows", blank=True)
    period_start = models.DateTimeField()
    period_end = models.DateTimeField()
    collect_from = models.DateTimeField()
    collect_until = models.DateTimeField()
    seed = models.BigIntegerField()
    drawn_at = models.DateTimeField(null=True, blank=True)
    # [{"request", "user", "outcome", "booking"}] in the order drawn.
    draw = models.JSONField(default=list, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    objects = ReleaseWindowQuerySet.as_manager()

    class Meta:
        ordering = ["-collect_until", "id"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(period_end__gt=models.F("period_start")),
                name="release_window_period_not_empty",
            ),
            models.CheckConstraint(
                condition=models.Q(collect_until__gt=models.F("collect_from")),
                name="release_window_collection_not_empty",
            ),
        ]
        indexes = [
            models.Index(
                fields=["collect_until"],
                condition=models.Q(drawn_at__isnull=True),
                name="release_window_to_draw",
            )
        ]

    def __str__(self):
        return f"release window {self.pk} ({self.venue_id})"


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
    # An occurrence of a weekly series.
    series = models.ForeignKey(
        BookingSeries,
        on_delete=models.CASCADE,
        related_name="occurrences",
        null=True,
        blank=True,
    )
    # A request that arrived in a release window's collection waits for its draw.
    release_window = models.ForeignKey(
        ReleaseWindow,
        on_delete=models.PROTECT,
        related_name="requests",
        null=True,
        blank=True,
    )

    organisation_path = "space__venue__organisation"

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["user", "idempotency_key"],
                condition=models.Q(idempotency_key__isnull=False),
                name="booking_request_idempotency_key",
            ),
            direct_or_flexible("booking_request_direct_or_flexible"),
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
    # When it was released as a no-show (and cancelled): its code was never used in time.
    no_show_at = models.DateTimeField(null=True, blank=True)
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
            # The no-show sweep: confirmed bookings not checked in, by their start.
            models.Index(
                fields=["start"],
                condition=models.Q(status=BookingStatus.CONFIRMED, checked_in_at__isnull=True),
                name="booking_not_checked_in",
            ),
            models.Index(
                fields=["user", "no_show_at"],
                condition=models.Q(no_show_at__isnull=False),
                name="booking_no_shows",
            ),
            # The retention sweep's (api/privacy): bookings that still name their person.
            models.Index(
                fields=["end"], condition=models.Q(user__isnull=False), name="booking_with_person"
            ),
        ]

    def __str__(self):
        return f"#{self.pk} {self.space_id} {self.start:%Y-%m-%d %H:%M}"

    def save(self, *args, **kwargs):
        self.block()
        super().save(*args, **kwargs)

    def block(self) -> None:
        """Set the range the booking keeps its space for (bulk inserts call no save())."""
        self.blocked = DateTimeTZRange(self.start, self.end + self.space.buffer, "[)")


class WaitlistEntry(FlexibleCriteria):
    """A person waiting for a slot (a space and times) or, like a flexible request, for any
    space that fits. When a booking is cancelled, released as a no-show or a closure is lifted,
    the first eligible entry is given the slot through allocate()'s own decision
    (api/bookings/waitlist.py); an entry expires when its slot (or its window's last start)
    begins."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="waitlist_entries"
    )
    space = models.ForeignKey(
        Space, on_delete=models.CASCADE, related_name="waitlist", null=True, blank=True
    )
    start = models.DateTimeField(null=True, blank=True)
    end = models.DateTimeField(null=True, blank=True)
    party_size = models.PositiveIntegerField()
    activity = models.ForeignKey(Activity, on_delete=models.PROTECT, null=True, blank=True)
    status = models.CharField(
        max_length=20, choices=WaitlistStatus.choices, default=WaitlistStatus.WAITING
    )
    booking = models.OneToOneField(
        Booking, on_delete=models.SET_NULL, related_name="waitlist_entry", null=True, blank=True
    )
    # When the slot starts (a flexible entry: its window's last start); it expires then.
    expires_at = models.DateTimeField()
    created_at = models.DateTimeField(auto_now_add=True)
    decided_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["created_at", "id"]
        constraints = [
            direct_or_flexible("waitlist_entry_direct_or_flexible"),
        ]
        indexes = [
            models.Index(
                fields=["expires_at"],
                condition=models.Q(status=WaitlistStatus.WAITING),
                name="waitlist_waiting",
            )
        ]

    def __str__(self):
        return f"waitlist {self.pk} ({self.status})"
