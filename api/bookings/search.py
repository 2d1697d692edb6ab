"""Slot search: concrete bookable offers across every matching space, best first.

GET /api/v1/slots/ pages through `search(query)`, flexible allocation tries its offers in the
same order, and the rejection email picks its alternatives from it: one order for all three
(rules.space_rank, then the earliest start, then the space's id).

What it costs, whatever the history: one query for the matching spaces with their weekly
hours and activities (the distance from the venues' GiST index), two for the dated openings
and closures of the window's dates (the closures' GiST index), and one range query for the
live bookings that meet the window. The starts a space would take without bookings are worked
out once for each set of time rules that spaces share (spaces with the same hours, grid and
window share them), then each space's bookings cut its own.
"""

import itertools
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from django.contrib.postgres.expressions import ArraySubquery
from django.contrib.postgres.fields import ArrayField
from django.db.models import F, FloatField, Func, IntegerField, OuterRef, Value
from django.utils import timezone

from api.bookings import availability, rules
from api.catalogue import geo
from api.catalogue.models import Activity, OpeningHours, Space

MAX_WINDOW = timedelta(days=31)


@dataclass(frozen=True)
class SlotQuery:
    """What a person wants: a party doing an activity for `duration`, inside [start, end),
    optionally in a district, with equipment, near a point (within a radius)."""

    party_size: int
    start: datetime
    end: datetime
    duration: timedelta
    # The activity's id; the alternatives of a request without one take any of its space's.
    activities: tuple[int, ...] = ()
    district: str | None = None
    equipment: tuple[str, ...] = ()
    near: tuple[float, float] | None = None
    radius_km: float | None = None
    # Only these spaces (None: any), and never these.
    spaces: tuple[int, ...] | None = None
    exclude: tuple[int, ...] = ()

    @classmethod
    def of_request(cls, request) -> "SlotQuery":
        """A flexible booking request's criteria (bookings.models.FlexibleCriteria)."""
        near = None
        if request.near_latitude is not None:
            near = (request.near_latitude, request.near_longitude)
        return cls(
            party_size=request.party_size,
            start=request.window_start,
            end=request.window_end,
            duration=timedelta(minutes=request.duration_minutes),
            activities=(request.activity_id,),
            district=request.district,
            equipment=tuple(request.equipment),
            near=near,
            radius_km=request.radius_km,
        )


@dataclass(frozen=True)
class Offer:
    space: int
    venue: int
    start: datetime
    end: datetime
    distance_km: float | None


@dataclass(frozen=True)
class SpaceStarts:
    """One matching space and the starts it offers."""

    space: int
    venue: int
    distance_km: float | None
    space_rules: rules.SpaceRules
    starts: rules.Starts

    @property
    def rank(self) -> tuple:
        return rules.space_rank(self.space_rules.capacity, self.distance_km)


class Offers(Sequence[Offer]):
    """Every offer, best first, computed per space and laid out lazily: its length is the
    number of offers (for the page count) and a slice builds only the offers it holds."""

    def __init__(self, spaces: list[SpaceStarts], duration: timedelta):
        self.duration = duration
        spaces = sorted(spaces, key=lambda s: (s.rank, s.space))
        self.spaces = spaces
        self._by_id = {s.space: s for s in spaces}
        self.tiers = [list(tier) for _, tier in itertools.groupby(spaces, key=lambda s: s.rank)]
        self._sizes = [sum(len(s.starts) for s in tier) for tier in self.tiers]

    def __len__(self) -> int:
        return sum(self._sizes)

    def rules_of(self, space_id: int) -> rules.SpaceRules:
        """The rules the offers of a space were found with."""
        return self._by_id[space_id].space_rules

    def __getitem__(self, index):
        if isinstance(index, slice):
            start, stop, step = index.indices(len(self))
            if step != 1:
                raise ValueError("Offers are sliced with step 1.")
            return list(itertools.islice(self._from(start), max(0, stop - start)))
        if index < 0:
            index += len(self)
        found = list(itertools.islice(self._from(index), 1))
        if not found:
            raise IndexError(index)
        return found[0]

    def __iter__(self) -> Iterator[Offer]:
        return self._from(0)

    def _from(self, skip: int) -> Iterator[Offer]:
        for tier, size in zip(self.tiers, self._sizes, strict=True):
            if skip >= size:
                skip -= size
                continue
            for start, space_id in _merged_from(tier, skip):
                space = self._by_id[space_id]
                yield Offer(space_id, space.venue, start, start + self.duration, space.distance_km)
            skip = 0


def _merged_from(tier: list[SpaceStarts], skip: int) -> Iterator[tuple[datetime, int]]:
    """The tier's starts merged in time order (rules.merge_offers), from the `skip`th on.

    A deep page does not walk the offers before it: the latest minute T with at most `skip`
    starts before it is found by bisection, and the merge begins there.
    """
    if len(tier) == 1:
        (only,) = tier
        return ((only.starts[i], only.space) for i in range(skip, len(only.starts)))
    since = None
    if skip:
        low = min(s.starts[0] for s in tier)
        high = max(s.starts[-1] for s in tier) + rules.MINUTE
        while high - low > rules.MINUTE:
            middle = low + (high - low) // 2 // rules.MINUTE * rules.MINUTE
            if sum(s.starts.count_before(middle) for s in tier) <= skip:
                low = middle
            else:
                high = middle
        since = low
        skip -= sum(s.starts.count_before(since) for s in tier)
    merged = rules.merge_offers([(s.space, s.starts.since(since)) for s in tier])
    return itertools.islice(merged, skip, None)


def search(query: SlotQuery, now: datetime | None = None) -> Offers:
    """Every offer for the query that keeps every booking rule as things stand, best first."""
    now = now or timezone.now()
    start, end = availability.within_reach(query.start, query.end, now)
    rows = list(_matching_spaces(query)) if start < end else []
    if not rows:
        return Offers([], query.duration)
    query = replace(query, start=start, end=end)
    zones = {row["venue__timezone"]: ZoneInfo(row["venue__timezone"]) for row in rows}
    ranges = [availability.local_dates(zone, query.start, query.end) for zone in zones.values()]
    first, last = min(r[0] for r in ranges), max(r[1] for r in ranges)
    openings, closures = availability.dated_hours_for(
        {row["id"]: row["venue_id"] for row in rows}, first, last
    )
    reach = timedelta(minutes=max(row["buffer_minutes"] for row in rows))
    bookings = availability.bookings_for(
        [row["id"] for row in rows], query.start - reach, query.end + reach
    )
    shared: dict[tuple, rules.Starts] = {}
    found = []
    for row in rows:
        space = availability.space_rules(
            row,
            zones[row["venue__timezone"]],
            map(tuple, row["weekly"]),
            row["activity_ids"],
            openings.get(row["id"], ()),
            closures.get(row["id"], ()),
        )
        if rules.check_capacity(space, query.party_size) or _activity_not_offered(space, query):
            continue
        timing = (space.hours, *(row[name] for name in availability.TIMING_FIELDS))
        starts = shared.get(timing)
        if starts is None:
            starts = rules.candidate_starts(space, query.start, query.end, query.duration, now)
            shared[timing] = starts
        if row["id"] in bookings:
            starts = starts.without(rules.widen(space, bookings[row["id"]]), query.duration)
        if starts:
            found.append(SpaceStarts(row["id"], row["venue_id"], row["distance_km"], space, starts))
    return Offers(found, query.duration)


def _activity_not_offered(space: rules.SpaceRules, query: SlotQuery) -> bool:
    if not query.activities:
        return False
    return all(rules.check_activity(space, activity) for activity in query.activities)


def _matching_spaces(query: SlotQuery):
    """The spaces the query could match, with their rule values (the filters narrow what the
    rules then judge, with indexes: the capacity, the activity, the district, the distance)."""
    spaces = Space.objects.filter(capacity__gte=query.party_size)
    if query.activities:
        spaces = spaces.filter(activities__in=query.activities).distinct()
    if query.district:
        spaces = spaces.filter(venue__district__iexact=query.district)
    if query.equipment:
        spaces = spaces.filter(equipment__contains=list(query.equipment))
    if query.spaces is not None:
        spaces = spaces.filter(pk__in=query.spaces)
    if query.exclude:
        spaces = spaces.exclude(pk__in=query.exclude)
    if query.near is not None and query.radius_km is not None:
        spaces = geo.within_km(spaces, query.near, query.radius_km)
    if query.near is not None:
        distance = geo.distance_km(query.near)
    else:
        distance = Value(None, output_field=FloatField())
    return spaces.annotate(
        distance_km=distance,
        weekly=ArraySubquery(
            OpeningHours.objects.filter(space=OuterRef("pk")).values(
                triple=Func(
                    F("weekday"),
                    F("opens"),
                    F("closes"),
                    template="ARRAY[%(expressions)s]",
                    output_field=ArrayField(IntegerField()),
                )
            )
        ),
        activity_ids=ArraySubquery(
            Activity.spaces.through.objects.filter(space=OuterRef("pk")).values("activity_id")
        ),
    ).values(
        "id",
        "venue_id",
        "venue__timezone",
        "distance_km",
        "weekly",
        "activity_ids",
        *availability.RULE_FIELDS,
    )


def alternatives(request, now: datetime | None = None, limit: int = 3) -> list[Offer]:
    """Free slots like the ones a rejected request wanted, for its email.

    For a direct request, taken in turn (rules.interleave) from the same time in other spaces
    for the activity and party (best first) and the same space at the nearest other times
    within a day either side (rules.time_rank). For a flexible one, the starts nearest to its
    window within a day either side (the last before it and the first from its start, in each
    space), by how far outside the window, then best first.
    """
    day = timedelta(days=1)
    if request.is_flexible:
        wanted = SlotQuery.of_request(request)
        latest = request.window_end - wanted.duration
        around = search(replace(wanted, start=wanted.start - day, end=wanted.end + day), now)
        picks = {}
        for space in around.spaces:
            # The last start before the window and the first from its beginning on.
            at = space.starts.count_before(request.window_start)
            for start in space.starts[max(0, at - 1) : at + 1]:
                gap = rules.gap_to(start, request.window_start, latest)
                picks[(gap, space.rank, start, space.space)] = Offer(
                    space.space, space.venue, start, start + wanted.duration, space.distance_km
                )
        return [picks[key] for key in sorted(picks)[:limit]]
    duration = request.end - request.start
    activities = (
        (request.activity_id,)
        if request.activity_id
        else tuple(request.space.activities.values_list("pk", flat=True))
    )
    elsewhere = SlotQuery(
        request.party_size,
        request.start,
        request.end,
        duration,
        activities,
        exclude=(request.space_id,),
    )
    same_time = search(elsewhere, now)[:limit]
    here = search(
        SlotQuery(
            request.party_size,
            request.start - day,
            request.end + day,
            duration,
            spaces=(request.space_id,),
        ),
        now,
    )
    other_times = []
    for space in here.spaces:
        nearest = nearest_starts(space.starts, request.start, limit + 1)
        other_times = [
            Offer(space.space, space.venue, start, start + duration, space.distance_km)
            for start in nearest
            if start != request.start
        ][:limit]
    return rules.interleave(same_time, other_times, limit=limit)


def nearest_starts(starts: rules.Starts, wanted: datetime, limit: int) -> list[datetime]:
    """Up to `limit` of the starts nearest in time to `wanted` (rules.time_rank)."""
    at = starts.count_before(wanted)
    around = starts[max(0, at - limit) : at + limit]
    return sorted(around, key=lambda start: rules.time_rank(start, wanted))[:limit]
