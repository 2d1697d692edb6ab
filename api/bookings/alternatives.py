"""Free slots like the ones a rejected request wanted, for its email: from slot search, in the
rules' orders (rules.interleave, rules.time_rank, rules.gap_to)."""

import bisect
from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime, timedelta

from api.bookings import rules
from api.bookings.search import Offer, SlotQuery, search

DAY = timedelta(days=1)


def alternatives(request, now: datetime | None = None, limit: int = 3) -> list[Offer]:
    """Up to `limit` free slots like the ones a rejected request wanted."""
    if request.is_flexible:
        return _around_the_window(request, now, limit)
    return _elsewhere_or_another_time(request, now, limit)


def _elsewhere_or_another_time(request, now, limit: int) -> list[Offer]:
    """Taken in turn (rules.interleave) from the same time in other spaces for the activity and
    the party (best first) and the same space at the nearest other times within a day either
    side (rules.time_rank)."""
    duration = request.end - request.start
    if request.activity_id:
        activities = (request.activity_id,)
    else:
        activities = tuple(request.space.activities.values_list("pk", flat=True))
    elsewhere = SlotQuery(
        request.party_size, request.start, request.end, duration, activities,
        exclude=(request.space_id,),
    )  # fmt: skip
    here = SlotQuery(
        request.party_size, request.start - DAY, request.end + DAY, duration,
        spaces=(request.space_id,),
    )  # fmt: skip
    same_time = search(elsewhere, now)[:limit]
    other_times = []
    found = search(here, now)
    if request.space_id in found.spaces:
        nearest = nearest_starts(found.starts_of(request.space_id), request.start, limit + 1)
        other_times = [found.offer(request.space_id, s) for s in nearest if s != request.start]
    return rules.interleave(same_time, other_times[:limit], limit=limit)


def _around_the_window(request, now, limit: int) -> list[Offer]:
    """The starts nearest to a flexible request's window within a day either side (in each
    space the last before it and the first from its beginning), by how far outside the window
    (rules.gap_to), then best first."""
    wanted = SlotQuery.of_criteria(request)
    latest = request.window_end - wanted.duration
    around = search(replace(wanted, start=wanted.start - DAY, end=wanted.end + DAY), now)
    picks = {}
    for space in around.spaces:
        starts = around.starts_of(space)
        at = bisect.bisect_left(starts, request.window_start)
        for start in starts[max(0, at - 1) : at + 1]:
            gap = rules.gap_to(start, request.window_start, latest)
            picks[(gap, around.rank_of(space), start, space)] = around.offer(space, start)
    return [picks[key] for key in sorted(picks)[:limit]]


def nearest_starts(starts: Sequence[datetime], wanted: datetime, limit: int) -> list[datetime]:
    """Up to `limit` of the sorted starts nearest in time to `wanted` (rules.time_rank)."""
    at = bisect.bisect_left(starts, wanted)
    around = starts[max(0, at - limit) : at + limit]
    return sorted(around, key=lambda start: rules.time_rank(start, wanted))[:limit]
