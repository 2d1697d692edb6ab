"""Each space's rules, kept in the shared cache for the API's intake.

The request serializer judges every booking request by its space's rules (values, weekly and
dated hours, activities): four queries each time from the database, or one Redis round trip
from here. The allocation worker never reads this cache: it re-reads the rules at decision time.

A change is enforced at once, not after a timeout: each space has a version in the cache, bumped
when the space, its venue, its hours, its activities or its dated closures and openings change,
and again when that transaction commits. An entry carries the version it was read under, and an entry of
an older version is read again. Reading the version before the database means that an entry
filled from a state older than a change always carries a version older than the change's.
"""

from datetime import timedelta

from django.core.cache import cache
from django.db import transaction
from django.db.models.signals import m2m_changed, post_delete, post_save
from django.utils import timezone

from api.bookings import availability, rules
from api.catalogue.models import Closure, ExtraOpening, OpeningHours, Space, Venue

# An entry holds the dated hours within the reach of any booking from the moment it was read
# (availability.within_reach, a day wider on both sides): it stays a superset of what any
# request needs for far longer than this.
LIFETIME = timedelta(hours=1)


def _version_key(space_id: int) -> str:
    return f"space-rules-version:{space_id}"


def _rules_key(space_id: int) -> str:
    return f"space-rules:{space_id}"


def rules_of(space: Space) -> rules.SpaceRules:
    """The space's rules for any booking within reach from now (its venue selected)."""
    version_key, rules_key = _version_key(space.pk), _rules_key(space.pk)
    found = cache.get_many([version_key, rules_key])
    version = found.get(version_key, 0)
    entry = found.get(rules_key)
    if entry is not None and entry[0] == version:
        return entry[1]
    now = timezone.now()
    space_rules = availability.rules_of(
        space, now - availability.REACH_BEFORE, now + availability.REACH_AFTER
    )
    cache.set(rules_key, (version, space_rules), timeout=LIFETIME.total_seconds())
    return space_rules


def changed(space_ids) -> None:
    """The rules of these spaces change with the caller's transaction.

    Bumped now, so that the caller's own connection reads its change at once, and again once
    the transaction commits, so that an entry another process filled meanwhile from the state
    before the commit is read again.
    """
    space_ids = sorted(set(space_ids))
    if space_ids:
        _bump(space_ids)
        transaction.on_commit(lambda: _bump(space_ids))


def _bump(space_ids: list[int]) -> None:
    for space_id in space_ids:
        key = _version_key(space_id)
        cache.add(key, 0, timeout=None)
        cache.incr(key)


def _space_changed(sender, instance, **kwargs):
    changed([instance.pk])


def _venue_changed(sender, instance, **kwargs):
    changed(Space.objects.filter(venue_id=instance.pk).values_list("pk", flat=True))


def _hours_changed(sender, instance, **kwargs):
    changed([instance.space_id])


def _closure_changed(sender, instance, **kwargs):
    if instance.space_id:
        changed([instance.space_id])
    else:
        _venue_changed(sender, instance.venue)


def _activities_changed(sender, instance, action, pk_set, **kwargs):
    if not action.startswith("post_"):
        return
    if isinstance(instance, Space):
        changed([instance.pk])
    else:  # an activity's spaces changed from the activity's side
        changed(pk_set or Space.objects.filter(activities=instance).values_list("pk", flat=True))


def connect() -> None:
    """Follow every change that the rules read (for the app's ready())."""
    for model, receiver in (
        (Space, _space_changed),
        (Venue, _venue_changed),
        (OpeningHours, _hours_changed),
        (ExtraOpening, _hours_changed),
        (Closure, _closure_changed),
    ):
        post_save.connect(receiver, sender=model, dispatch_uid=f"rules-cache-{model.__name__}")
        post_delete.connect(
            receiver, sender=model, dispatch_uid=f"rules-cache-del-{model.__name__}"
        )
    m2m_changed.connect(
        _activities_changed, sender=Space.activities.through, dispatch_uid="rules-cache-activities"
    )
