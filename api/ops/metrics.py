"""The system's state as metrics, read at scrape time from the database and Redis.

A state (what is queued, how grants and locks stand) is read when Prometheus asks, not counted
as it changes, so it is right after any restart and the same from every api instance (query it
with `max`, not `sum`, when several scrape). Every query finds its rows through a partial index
or counts a small table (locks), so a scrape costs a few milliseconds however long the history
grows. The alerts that need a person are the alert rules' inputs, computed by the same
functions as /api/v1/alerts/.
"""

import logging
from datetime import datetime, timedelta

from django.conf import settings
from django.db.models import Count, F, Min, Q
from django.utils import timezone
from prometheus_client.core import GaugeMetricFamily

from api.access import alerts
from api.access.choices import GrantState
from api.access.models import Grant, Lock
from api.bookings.choices import RequestStatus
from api.bookings.models import BookingRequest
from api.notifications.choices import NotificationState
from api.notifications.models import Notification
from workers import app

log = logging.getLogger(__name__)

QUEUES = ("allocation", "locks", "notifications")
# The states worth watching: those still moving, and `failed`, which waits for a person. Sent
# and skipped rows only grow; their rate is flexispace_tasks_total on the notifications worker.
NOTIFICATION_STATES = (
    NotificationState.PENDING,
    NotificationState.SENDING,
    NotificationState.FAILED,
)


def gauge(name: str, documentation: str, value=None, labels=(), samples=()):
    family = GaugeMetricFamily(name, documentation, value=value, labels=labels or None)
    for label_values, sample in samples:
        family.add_metric(label_values, sample)
    return family


class StateCollector:
    """A prometheus_client collector: `collect()` runs once per scrape."""

    def describe(self):
        return []

    def collect(self):
        now = timezone.now()
        for source, read in (("redis", self.queues), ("database", self.database)):
            try:
                families = list(read(now))
            except Exception:
                log.exception("metrics: reading the %s failed", source)
                families = []
            yield gauge(
                "flexispace_state_up",
                "Whether the last scrape could read this source of state.",
                labels=["source"],
                samples=[([source], 1 if families else 0)],
            )
            yield from families

    def queues(self, now):
        with app.connection_for_write() as connection:
            channel = connection.default_channel
            # The channel adds the key prefix and counts every priority of the queue.
            depths = [([queue], channel._size(queue)) for queue in QUEUES]
        yield gauge(
            "flexispace_queue_depth",
            "Tasks waiting in each Celery queue (not yet taken by a worker).",
            labels=["queue"],
            samples=depths,
        )

    def database(self, now):
        yield from self.requests(now)
        yield from self.grants(now)
        yield from self.locks(now)
        yield from self.notifications()

    def requests(self, now):
        pending = BookingRequest.objects.filter(status=RequestStatus.PENDING)
        count, age = _count_and_age(pending, "created_at", now)
        yield gauge(
            "flexispace_booking_requests_pending",
            "Booking requests accepted and not yet decided.",
            count,
        )
        yield gauge(
            "flexispace_booking_request_oldest_pending_seconds",
            "Age of the oldest booking request still waiting for its decision.",
            age,
        )

    def grants(self, now):
        live = (
            Grant.objects.filter(withdrawn_at__isnull=True)
            .values_list("state")
            .annotate(count=Count("id"))
            .order_by()
        )
        by_state = dict.fromkeys(GrantState.values, 0) | dict(live)
        yield gauge(
            "flexispace_grants",
            "Grants the backend still wants on their lock, by state.",
            labels=["state"],
            samples=[([state], count) for state, count in by_state.items()],
        )
        yield gauge(
            "flexispace_grant_revocations_unconfirmed",
            "Grants withdrawn whose window has ended but whose lock has not confirmed removing them.",
            len(alerts.revocations_unconfirmed(now)),
        )
        yield gauge(
            "flexispace_lock_boundary_lag_seconds",
            "How late the boundary sweep is: age of the oldest grant due to be provisioned, "
            "started or ended and not yet handled (0 when none is due).",
            _boundary_lag(now),
        )

    def locks(self, now):
        silent_since = now - 3 * timedelta(seconds=settings.LOCK_KEEPALIVE_SECONDS)
        counts = Lock.objects.aggregate(
            total=Count("id"),
            online=Count("id", filter=Q(online=True, last_seen__gte=silent_since)),
        )
        yield gauge(
            "flexispace_locks",
            "Enrolled locks, online (heard within three keep-alives) or offline.",
            labels=["presence"],
            samples=[
                (["online"], counts["online"]),
                (["offline"], counts["total"] - counts["online"]),
            ],
        )
        yield gauge(
            "flexispace_locks_offline_with_grants_soon",
            "Offline locks holding codes that are due within the next 24 hours.",
            len(alerts.offline_locks_with_grants_soon(now)),
        )
        behind = Lock.objects.filter(applied_version__lt=F("desired_version"))
        count, lag = _count_and_age(behind, "last_published_at", now)
        yield gauge(
            "flexispace_locks_behind",
            "Locks whose applied version is below the version last published to them.",
            count,
        )
        yield gauge(
            "flexispace_lock_sync_lag_seconds",
            "Desired against applied: how long the longest-waiting publication has gone "
            "unapplied (versions come from one sequence, so their difference means nothing).",
            lag,
        )

    def notifications(self):
        # One count per state, so that each uses that state's partial index.
        yield gauge(
            "flexispace_notifications",
            "Outbox rows by state: pending, sending, or failed (waiting for a person).",
            labels=["state"],
            samples=[
                ([state], Notification.objects.filter(state=state).count())
                for state in NOTIFICATION_STATES
            ],
        )


def _count_and_age(queryset, field: str, now: datetime) -> tuple[int, float]:
    """How many rows, and the seconds since the oldest one's `field` (0 without rows)."""
    found = queryset.aggregate(count=Count("id"), oldest=Min(field))
    age = (now - found["oldest"]).total_seconds() if found["oldest"] else 0.0
    return found["count"], max(0.0, age)


def _boundary_lag(now: datetime) -> float:
    """Seconds since the oldest grant became due for a sweep phase and was not handled."""
    lead = settings.LOCK_PROVISION_LEAD
    live = Grant.objects.filter(withdrawn_at__isnull=True)
    to_provision = live.filter(queued_at__isnull=True, valid_from__lte=now + lead)
    to_start = live.filter(started_at__isnull=True, slot_start__lte=now)
    to_end = live.filter(valid_until__lte=now)
    due = [
        _oldest(to_provision, "valid_from", -lead),
        _oldest(to_start, "slot_start"),
        _oldest(to_end, "valid_until"),
    ]
    return max(((now - at).total_seconds() for at in due if at), default=0.0)


def _oldest(queryset, field: str, shift: timedelta = timedelta()) -> datetime | None:
    at = queryset.aggregate(at=Min(field))["at"]
    return at + shift if at else None
