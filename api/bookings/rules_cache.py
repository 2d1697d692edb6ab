"""Each space, with its rules, kept in the shared cache for the API's intake.

The intake reads, for every booking request, the space with its venue, its rules (values,
weekly and dated hours, activities) and whether a release window may be collecting its
requests: six queries each time from the database, or one Redis round trip from here. The
allocation worker never reads this cache: it re-reads the rules at decision time.

A change is enforced at once, not after a timeout: each space has a version in the cache, bumped
when the space, its venue, its hours, its activities, its dated closures and openings or the
venue's release windows change, and again when that transaction commits. An entry carries the
version it was read under, and an entry of an older version is read again. Reading the version
before the database means that an entry filled from a state older than a change always carries
a version older than the change's.
"""

from dataclasses import dataclass
from datetime import timedelta

from django.core.cache import cache
from django.db import transaction
from django.db.models.signals import m2m_changed, post_delete, post_save
from django.utils import timezone

from api.bookings import availability, rules
from api.bookings.models import ReleaseWindow
from api.catalogue.models import Closure, ExtraOpening, OpeningHours, Space, Venue

# An entry holds the dated hours within the reach of any booking from the moment it was read
# (availability.within_reach, a day wider on both sides): it stays a superset of what any
# request needs for far longer than this.
LIFETIME = timedelta(hours=1)


@dataclass(frozen=True)
class Entry:
    space: Space  # with its venue
    rules: rules.SpaceRules
    # An undrawn release window covered the space when the entry was read: only then can a
    # request wait for a draw, so only then is the (authoritative) window looked up. A window
    # made later bumps the version; one that closes meanwhile only costs that lookup.
    may_collect: bool


def _version_key(space_id: int) -> str:
    return f"space-rules-version:{space_id}"


def _entry_key(space_id: int) -> str:
    return f"space-intake:{space_id}"


def space(space_id: int) -> Space | None:
    """The space with its venue (None if there is none), carrying its cache entry, so that
    rules_of and may_collect read nothing more."""
    entry = _entry(space_id)
    if entry is None:
        return None
    found = entry.space
    found._intake_entry = entry
    return found


def rules_of(space: Space) -> rules.SpaceRules:
    """The space's rules for any booking within reach from now."""
    return _entry_of(space).rules


def may_collect(space: Space) -> bool:
    """Whether a release window may be collecting requests for the space (see Entry)."""
    return _entry_of(space).may_collect


def _entry_of(space: Space) -> Entry:
    entry = getattr(space, "_intake_entry", None) or _entry(space.pk)
    if entry is None:  # deleted since the caller read it: judged by its last state
        return _read(space)
    return entry


def _entry(space_id: int) -> Entry | None:
    version_key, entry_key = _version_key(space_id), _entry_key(space_id)
    found = cache.get_many([version_key, entry_key])
    version = found.get(version_key, 0)
    entry = found.get(entry_key)
    if entry is not None and entry[0] == version:
        return entry[1]
    space = Space.objects.select_related("venue").filter(pk=space_id).first()
    if space is None:
        return None
    entry = _read(space)
    cache.set(entry_key, (version, entry), timeout=LIFETIME.total_seconds())
    return entry


def _read(space: Space) -> Entry:
    now = timezone.now()
    return Entry(
        space=space,
        rules=availability.rules_of(
            space, now - availability.REACH_BEFORE, now + availability.REACH_AFTER
        ),
        may_collect=ReleaseWindow.objects.undrawn_for(space).filter(collect_until__gt=now).exists(),
    )


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
    _venue_spaces_changed(instance.pk)


def _venue_spaces_changed(venue_id: int) -> None:
    changed(Space.objects.filter(venue_id=venue_id).values_list("pk", flat=True))


def _hours_changed(sender, instance, **kwargs):
    changed([instance.space_id])


def _closure_changed(sender, instance, **kwargs):
    if instance.space_id:
        changed([instance.space_id])
    else:
        _venue_spaces_changed(instance.venue_id)


def _window_changed(sender, instance, **kwargs):
    _venue_spaces_changed(instance.venue_id)


def _window_spaces_changed(sender, instance, action, **kwargs):
    # From either side (a window or a space) the venue's spaces change: a window that names
    # no space covers all of them.
    if action.startswith("post_"):
        _venue_spaces_changed(instance.venue_id)


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
        (ReleaseWindow, _window_changed),
    ):
        post_save.connect(receiver, sender=model, dispatch_uid=f"rules-cache-{model.__name__}")
        post_delete.connect(
            receiver, sender=model, dispatch_uid=f"rules-cache-del-{model.__name__}"
        )
    m2m_changed.connect(
        _activities_changed, sender=Space.activities.through, dispatch_uid="rules-cache-activities"
    )
    m2m_changed.connect(
        _window_spaces_changed,
        sender=ReleaseWindow.spaces.through,
        dispatch_uid="rules-cache-window-spaces",
    )
