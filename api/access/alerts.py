"""What needs a person, for GET /api/v1/alerts/.

Each source is a function `(now) -> list[dict]` of alerts shaped
`{"kind", "since", "lock", "space", "booking", "grant", "detail"}` (absent parts null; an alert
about no space, such as a webhook's, names its "organisation" instead, for `visible()`).
Another app adds its own with `@alerts.source` in its AppConfig.ready() (the notifications app:
failed notifications).
"""

from collections.abc import Callable
from datetime import datetime, timedelta

from django.conf import settings
from django.db.models import Q

from api.access.choices import GrantState
from api.access.models import Grant, Lock, LockAnomaly
from api.catalogue.models import Space
from api.organisations import scoping

SOURCES: list[Callable[[datetime], list[dict]]] = []
HORIZON = timedelta(hours=24)


def source(function: Callable[[datetime], list[dict]]):
    if function not in SOURCES:
        SOURCES.append(function)
    return function


def collect(now: datetime) -> list[dict]:
    found = [alert for function in SOURCES for alert in function(now)]
    return sorted(found, key=lambda alert: (alert["since"] is None, alert["since"] or now))


def visible(alerts: list[dict], user) -> list[dict]:
    """The alerts about the person's organisations' spaces, and about the organisations."""
    if scoping.is_city_operator(user):
        return alerts
    spaces = set(scoping.scoped(Space.objects.all(), user).values_list("id", flat=True))
    organisations = set(scoping.organisation_ids(user).values_list("organisation_id", flat=True))
    return [
        alert
        for alert in alerts
        if alert["space"] in spaces or alert.get("organisation") in organisations
    ]


def _alert(kind, since, detail, lock=None, space=None, booking=None, grant=None) -> dict:
    return {
        "kind": kind,
        "since": since,
        "lock": lock,
        "space": space,
        "booking": booking,
        "grant": grant,
        "detail": detail,
    }


@source
def offline_locks_with_grants_soon(now: datetime) -> list[dict]:
    silent_since = now - timedelta(seconds=3 * settings.LOCK_KEEPALIVE_SECONDS)
    offline = Q(online=False) | Q(last_seen__lt=silent_since) | Q(last_seen__isnull=True)
    locks = (
        Lock.objects.filter(offline)
        .filter(
            grants__withdrawn_at__isnull=True,
            grants__valid_from__lt=now + HORIZON,
            grants__valid_until__gt=now,
        )
        .distinct()
    )
    return [
        _alert(
            "lock_offline",
            lock.last_seen,
            f"Lock {lock.id} is offline and has codes due in the next 24 hours.",
            lock=lock.id,
            space=lock.space_id,
        )
        for lock in locks
    ]


@source
def grants_unconfirmed_at_start(now: datetime) -> list[dict]:
    grants = Grant.objects.filter(
        state=GrantState.PENDING, slot_start__lte=now, withdrawn_at__isnull=True
    ).select_related("lock")
    return [
        _alert(
            "grant_unconfirmed",
            grant.slot_start,
            f"The lock {grant.lock_id} has not confirmed the code of booking {grant.booking_id}, "
            "whose slot has begun.",
            lock=grant.lock_id,
            space=grant.lock.space_id,
            booking=grant.booking_id,
            grant=grant.id,
        )
        for grant in grants
    ]


@source
def revocations_unconfirmed(now: datetime) -> list[dict]:
    grants = Grant.objects.filter(
        withdrawn_at__isnull=False, state__in=GrantState.on_lock(), valid_until__lte=now
    ).select_related("lock")
    return [
        _alert(
            "revocation_unconfirmed",
            grant.withdrawn_at,
            f"The lock {grant.lock_id} has not confirmed removing the code of booking "
            f"{grant.booking_id}.",
            lock=grant.lock_id,
            space=grant.lock.space_id,
            booking=grant.booking_id,
            grant=grant.id,
        )
        for grant in grants
    ]


@source
def lock_anomalies(now: datetime) -> list[dict]:
    """What locks reported that the backend ignored (a version it never published, a code
    accepted outside its window), for a day."""
    anomalies = LockAnomaly.objects.filter(at__gt=now - HORIZON).select_related("lock")
    grants = dict(
        Grant.objects.filter(id__in={a.grant_id for a in anomalies if a.grant_id}).values_list(
            "id", "booking_id"
        )
    )
    return [
        _alert(
            f"lock_{anomaly.kind}",
            anomaly.at,
            anomaly.detail,
            lock=anomaly.lock_id,
            space=anomaly.lock.space_id,
            booking=grants.get(anomaly.grant_id),
            grant=anomaly.grant_id or None,
        )
        for anomaly in anomalies
    ]
