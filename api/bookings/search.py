"""Slot search: concrete bookable offers across every matching space, best first.

GET /api/v1/slots/ pages through `search(query)`, flexible allocation tries its offers in the
same order, GET /spaces/?free_from&free_to keeps the spaces with an offer, and the rejection
email picks its alternatives from it (alternatives.py): one order for all (rules.offer_rank).

What a search costs, however long the history: one query for the matching spaces, grouped by
everything that decides their offers (their weekly hours come in one column that PostgreSQL
keeps, catalogue 0003; the distance from the venues' GiST index), two for the dated openings
and closures of the window's dates (the closures' GiST index on their dates), and one range
query for the live bookings that meet the window (the bookings' index on status and end: past
bookings end before any window a search may ask about). In Python, the starts without bookings
are worked out once per group (`rules.candidate_starts`), and each booking then rules out a
stretch of its own space's starts: work in proportion to the groups, the bookings in the window
and the page, not to every space's every offer.
"""

import bisect
import functools
import heapq
import itertools
from collections import defaultdict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from django.contrib.postgres.aggregates import ArrayAgg
from django.db.models import Exists, OuterRef, QuerySet
from django.db.models.expressions import RawSQL
from django.db.models.functions import Collate
from django.utils import timezone

from api.bookings import availability, rules
from api.catalogue import geo, hours
from api.catalogue.models import Activity, Space, Venue

# Up to this many matching spaces, their bookings are read by their ids; beyond, all of the
# window's (reading which spaces to join costs more than the few bookings of others).
FEW_SPACES = 500
# Everything a group of spaces shares: their offers differ only by their own bookings.
GROUP_FIELDS = ("capacity", "venue__timezone", "weekly_hours", *availability.TIMING_FIELDS)


@dataclass(frozen=True)
class SlotQuery:
    """What a person wants: a party doing an activity for `duration`, inside [start, end),
    optionally in a district, with equipment, near a point (within a radius)."""

    party_size: int
    start: datetime
    end: datetime
    duration: timedelta
    # Any of these activities' ids (none: any activity); a request names one, the alternatives
    # of a request without one take those of its space.
    activities: tuple[int, ...] = ()
    district: str | None = None
    equipment: tuple[str, ...] = ()
    near: tuple[float, float] | None = None
    radius_km: float | None = None
    # Only these spaces (None: any), and never these.
    spaces: tuple[int, ...] | None = None
    exclude: tuple[int, ...] = ()

    @classmethod
    def of_criteria(cls, criteria) -> "SlotQuery":
        """A flexible request's criteria (bookings.models.FlexibleCriteria), or a slot search's."""
        near = None
        if criteria.near_latitude is not None:
            near = (criteria.near_latitude, criteria.near_longitude)
        return cls(
            party_size=criteria.party_size,
            start=criteria.window_start,
            end=criteria.window_end,
            duration=timedelta(minutes=criteria.duration_minutes),
            activities=(criteria.activity_id,),
            district=criteria.district,
            equipment=tuple(criteria.equipment),
            near=near,
            radius_km=criteria.radius_km,
        )


@dataclass(frozen=True)
class Offer:
    space: int
    venue: int
    start: datetime
    end: datetime
    distance_km: float | None


class Block:
    """Spaces of one rank whose offers differ only by their own bookings: one list of candidate
    starts, and for each space the stretches of it that its bookings rule out (index ranges).

    Its offers in order are, for each start, the spaces (by id) that it is free in."""

    def __init__(self, space_rules, distance_km, starts, spaces, venues, bookings, duration):
        """`starts` are (datetimes, the same as epoch seconds); `bookings` by space in epoch
        seconds (availability.bookings_for)."""
        self.space_rules = space_rules
        self.distance_km = distance_km
        self.starts, keys = starts
        self.spaces = spaces  # sorted by id
        self.venues = venues  # a space's venue, for these spaces and maybe others
        self.taken: dict[int, list[tuple[int, int]]] = {}
        mine = {space: bookings[space] for space in spaces if space in bookings}
        buffer, reach = space_rules.buffer_minutes * 60, duration.total_seconds()
        after_lo, before_hi = bisect.bisect_right, bisect.bisect_left
        taken, stretched = 0, self.taken
        for space, ruled in rules.ruled_out_by_space(mine, buffer, reach).items():
            stretches = [(after_lo(keys, lo), before_hi(keys, hi)) for lo, hi in ruled]
            stretches = [(first, after) for first, after in stretches if first < after]
            if stretches:
                stretched[space] = stretches
                taken += sum(after - first for first, after in stretches)
        self.size = len(spaces) * len(self.starts) - taken

    @functools.cached_property
    def before(self) -> list[int]:
        """before[i]: the offers at the starts before starts[i] (for deep pages only)."""
        begun = [0] * (len(self.starts) + 1)
        for stretches in self.taken.values():
            for first, after in stretches:
                begun[first] += 1
                begun[after] -= 1
        before, taken = [0], 0
        for index in range(len(self.starts)):
            taken += begun[index]
            before.append(before[-1] + len(self.spaces) - taken)
        return before

    @property
    def rank(self) -> tuple:
        return rules.space_rank(self.space_rules.capacity, self.distance_km)

    def __len__(self) -> int:
        return self.size

    def count_before(self, instant: datetime) -> int:
        return self.before[bisect.bisect_left(self.starts, instant)]

    def offers_since(self, instant: datetime | None) -> Iterator[tuple[datetime, int]]:
        """(start, space id) from `instant` on (all for None), in order."""
        first = 0 if instant is None else bisect.bisect_left(self.starts, instant)
        for index in range(first, len(self.starts)):
            start = self.starts[index]
            for space in self.spaces:
                stretches = self.taken.get(space)
                if stretches and any(a <= index < b for a, b in stretches):
                    continue
                yield start, space

    def has_offers(self, space: int) -> bool:
        # A space's stretches do not overlap (rules.ruled_out merges them).
        return sum(b - a for a, b in self.taken.get(space, ())) < len(self.starts)

    def starts_of(self, space: int) -> list[datetime]:
        """One space's free starts."""
        stretches = self.taken.get(space, ())
        return [
            start
            for index, start in enumerate(self.starts)
            if not any(a <= index < b for a, b in stretches)
        ]


class Offers(Sequence[Offer]):
    """Every offer, best first, laid out lazily: its length is the number of offers (the page
    count) and a slice builds only the offers it holds."""

    def __init__(self, blocks: list[Block], duration: timedelta):
        self.duration = duration
        blocks = [block for block in blocks if len(block)]
        blocks.sort(key=lambda block: block.rank)
        self.tiers = [list(tier) for _, tier in itertools.groupby(blocks, key=lambda b: b.rank)]
        self._sizes = [sum(len(block) for block in tier) for tier in self.tiers]
        self._blocks = {space: block for block in blocks for space in block.spaces}

    def __len__(self) -> int:
        return sum(self._sizes)

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

    @property
    def spaces(self) -> list[int]:
        """The spaces with offers, best first."""
        return [
            space
            for tier in self.tiers
            for block in tier
            for space in block.spaces
            if block.has_offers(space)
        ]

    def rules_of(self, space: int) -> rules.SpaceRules:
        """The rules the offers of a space were found with."""
        return self._blocks[space].space_rules

    def starts_of(self, space: int) -> list[datetime]:
        return self._blocks[space].starts_of(space)

    def rank_of(self, space: int) -> tuple:
        return self._blocks[space].rank

    def offer(self, space: int, start: datetime) -> Offer:
        block = self._blocks[space]
        return Offer(space, block.venues[space], start, start + self.duration, block.distance_km)

    def _from(self, skip: int) -> Iterator[Offer]:
        for tier, size in zip(self.tiers, self._sizes, strict=True):
            if skip >= size:
                skip -= size
                continue
            for start, space in _merged_from(tier, skip):
                yield self.offer(space, start)
            skip = 0


def _merged_from(tier: list[Block], skip: int) -> Iterator[tuple[datetime, int]]:
    """The tier's offers in order (rules.offer_rank: earliest, then by space), from the
    `skip`th on. A deep page does not walk the offers before it: the latest minute T with at
    most `skip` offers before it is found by bisection, and the merge begins there."""
    since = None
    if skip:
        low = min(block.starts[0] for block in tier)
        high = max(block.starts[-1] for block in tier) + rules.MINUTE
        while high - low > rules.MINUTE:
            middle = low + (high - low) // 2 // rules.MINUTE * rules.MINUTE
            if sum(block.count_before(middle) for block in tier) <= skip:
                low = middle
            else:
                high = middle
        since = low
        skip -= sum(block.count_before(since) for block in tier)
    merged = heapq.merge(*(block.offers_since(since) for block in tier))
    return itertools.islice(merged, skip, None)


def search(query: SlotQuery, now: datetime | None = None) -> Offers:
    """Every offer for the query that keeps every booking rule as things stand, best first."""
    now = now or timezone.now()
    start, end = availability.within_reach(query.start, query.end, now)
    groups = _grouped(_matching_spaces(query), query) if start < end else []
    if not groups:
        return Offers([], query.duration)
    query = replace(query, start=start, end=end)
    zones = {group["venue__timezone"]: ZoneInfo(group["venue__timezone"]) for group in groups}
    ranges = [availability.local_dates(zone, start, end) for zone in zones.values()]
    first, last = min(r[0] for r in ranges), max(r[1] for r in ranges)
    venues = {s: v for group in groups for s, v in zip(group["ids"], group["venues"], strict=True)}
    openings, closures = availability.dated_hours_for(venues, first, last)
    reach = timedelta(minutes=max(group["buffer_minutes"] for group in groups))
    # A few spaces' bookings by their ids; a city's (most of them in the window) all at once.
    few = venues if len(venues) <= FEW_SPACES else None
    bookings = availability.bookings_for(start - reach, end + reach, few)
    # The activity: the query's join says each space offers it, which is all the rule asks.
    activities = frozenset(query.activities)
    dated = openings.keys() | closures.keys()
    shared_starts: dict[tuple, tuple[list[datetime], list[float]]] = {}
    blocks = []
    for group in groups:
        weekly = hours.from_weekly_key(group["weekly_hours"])
        zone = zones[group["venue__timezone"]]
        members = sorted(group["ids"])
        # Spaces with dated openings or closures of their own leave the group.
        by_hours = {((), ()): members}
        if not dated.isdisjoint(members):
            by_hours = defaultdict(list)
            for space in members:
                own = (tuple(sorted(openings.get(space, ()))), tuple(closures.get(space, ())))
                by_hours[own].append(space)
        for (dated_openings, dated_closures), members in by_hours.items():
            space_rules = availability.space_rules(
                group, zone, weekly, activities, dated_openings, dated_closures
            )
            if rules.check_capacity(space_rules, query.party_size):
                continue
            timing = (space_rules.hours, *(group[name] for name in availability.TIMING_FIELDS))
            if timing not in shared_starts:
                starts = rules.candidate_starts(space_rules, start, end, query.duration, now)
                shared_starts[timing] = (starts, [moment.timestamp() for moment in starts])
            if shared_starts[timing][0]:
                blocks.append(
                    Block(
                        space_rules,
                        group["distance_km"],
                        shared_starts[timing],
                        members,
                        venues,
                        bookings,
                        query.duration,
                    )
                )
    return Offers(blocks, query.duration)


def _matching_spaces(query: SlotQuery):
    """The spaces the query could match: the filters only narrow what the rules then judge
    (the capacity, the activity, the district, the equipment, the distance)."""
    spaces = Space.objects.filter(capacity__gte=query.party_size)
    if query.activities:
        offered = Activity.spaces.through.objects.filter(
            space=OuterRef("pk"), activity__in=query.activities
        )
        spaces = spaces.filter(Exists(offered))
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
    return spaces


def _grouped(spaces, query: SlotQuery) -> list[dict]:
    """The spaces grouped by what decides their offers, each group with its spaces' ids and
    their venues; near a point, by venue too, each group with its distance (worked out once
    per venue, not per space)."""
    fields = [name for name in GROUP_FIELDS if name != "venue__timezone"]
    fields += ["timezone", "buffer_minutes"]
    if query.near is not None:
        fields.append("venue_id")
    groups = list(
        spaces.annotate(
            weekly_hours=RawSQL('"catalogue_space"."weekly_hours"', ()),
            # Compared byte by byte: the planner may sort to group, and a zone is no prose.
            timezone=Collate("venue__timezone", "C"),
        )
        .values(*fields)
        # Unordered, so that PostgreSQL may group by hashing rather than sorting every space.
        .annotate(ids=ArrayAgg("id"), venues=ArrayAgg("venue_id"))
        .order_by()
    )
    distances = {}
    if query.near is not None:
        venues = Venue.objects.filter(
            pk__in=availability.id_array({group["venue_id"] for group in groups})
        )
        distance = geo.distance_km(query.near, venue="")
        distances = dict(venues.annotate(km=distance).values_list("pk", "km"))
    for group in groups:
        group["venue__timezone"] = group.pop("timezone")
        group["distance_km"] = distances.get(group.get("venue_id"))
    return groups


def spaces_free_for(spaces: QuerySet[Space], start: datetime, end: datetime) -> QuerySet[Space]:
    """The spaces in `spaces` where [start, end) could be booked right now, as it stands
    (GET /spaces/?free_from&free_to): those with an offer of just that."""
    found = search(SlotQuery(party_size=1, start=start, end=end, duration=end - start))
    return spaces.filter(pk__in=availability.id_array(found.spaces))
