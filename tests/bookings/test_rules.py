"""The booking rules as plain functions, without a database (api/bookings/rules.py)."""

from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from api.bookings import rules
from api.bookings.choices import RejectReason

HELSINKI = ZoneInfo("Europe/Helsinki")
ALL_WEEK = tuple((weekday, 0, 24 * 60) for weekday in range(7))
MONDAY_8_TO_20 = ((0, 8 * 60, 20 * 60),)
# Summer time begins on Sunday 28 March 2027 at 03:00 local (01:00 UTC), and ends on Sunday
# 31 October 2027 at 04:00 local (01:00 UTC).
SPRING = datetime(2027, 3, 28, 1, tzinfo=UTC)
AUTUMN = datetime(2027, 10, 31, 1, tzinfo=UTC)
MINUTE = timedelta(minutes=1)


def utc(*args):
    return datetime(*args, tzinfo=UTC)


def space(**values) -> rules.SpaceRules:
    """A music room's rules: open around the clock, a 30-minute grid, 1 to 4 hours."""
    hours = rules.Hours(
        HELSINKI,
        values.pop("weekly", ALL_WEEK),
        values.pop("openings", ()),
        values.pop("closures", ()),
    )
    defaults = {
        "capacity": 12,
        "activities": frozenset({1}),
        "slot_minutes": 30,
        "min_duration_minutes": 60,
        "max_duration_minutes": 240,
        "lead_time_minutes": 60,
        "max_advance_days": 60,
        "buffer_minutes": 0,
    }
    return rules.SpaceRules(hours=hours, **{**defaults, **values})


NOW = utc(2027, 1, 11, 6)  # Monday 08:00 in Helsinki


# --- one rule at a time -------------------------------------------------------------------------


def test_the_window_starts_after_the_lead_time_and_ends_at_the_max_advance():
    room = space(lead_time_minutes=90, max_advance_days=14)
    assert rules.booking_window(room, NOW) == (NOW + timedelta(minutes=90), NOW + timedelta(14))
    assert rules.check_window(room, NOW - timedelta(hours=1), NOW) == RejectReason.TOO_LATE
    assert rules.check_window(room, NOW + timedelta(minutes=89), NOW) == RejectReason.TOO_LATE
    assert rules.check_window(room, NOW + timedelta(minutes=90), NOW) is None
    assert rules.check_window(room, NOW + timedelta(days=14), NOW) is None
    later = NOW + timedelta(days=14, minutes=1)
    assert rules.check_window(room, later, NOW) == RejectReason.TOO_FAR_AHEAD


@pytest.mark.parametrize("change", [SPRING, AUTUMN], ids=["spring", "autumn"])
def test_the_lead_time_is_real_time_across_a_daylight_saving_change(change):
    # Two hours before the change, a two-hour lead time ends at the change itself, although
    # the wall clock moves one hour more (spring) or one hour less (autumn).
    room = space(lead_time_minutes=120)
    now = change - timedelta(hours=2)
    assert rules.check_window(room, change, now) is None
    assert rules.check_window(room, change - MINUTE, now) == RejectReason.TOO_LATE


def test_the_grid_is_counted_from_local_midnight():
    room = space(slot_minutes=30)
    assert rules.on_grid(room, utc(2027, 1, 11, 16, 30))  # 18:30 local
    assert not rules.on_grid(room, utc(2027, 1, 11, 16, 10))
    assert not rules.on_grid(room, utc(2027, 1, 11, 16, 30, 1))
    assert rules.check_grid(room, utc(2027, 1, 11, 16, 10)) == RejectReason.OFF_GRID
    # A 45-minute grid: 00:00, 00:45, 01:30 … local, so 18:00 local is on it and 18:30 is not.
    quarters = space(slot_minutes=45)
    assert rules.on_grid(quarters, utc(2027, 1, 11, 16))
    assert not rules.on_grid(quarters, utc(2027, 1, 11, 16, 30))


def brute_grid(room, start, end):
    """Every grid instant in [start, end], minute by minute: the reference for the fast ways."""
    moment, points = start, []
    while moment <= end:
        if rules.on_grid(room, moment):
            points.append(moment)
        moment += MINUTE
    return points


@pytest.mark.parametrize("slot", [30, 60, 90, 100, 45])
@pytest.mark.parametrize("change", [SPRING, AUTUMN], ids=["spring", "autumn"])
def test_rounding_to_the_grid_agrees_with_the_grid_at_both_daylight_saving_changes(slot, change):
    room = space(slot_minutes=slot)
    first, last = change - timedelta(hours=6), change + timedelta(hours=6)
    points = brute_grid(room, first - timedelta(hours=3), last + timedelta(hours=3))
    moment = first
    while moment <= last:
        after = min(p for p in points if p >= moment)
        before = max(p for p in points if p <= moment)
        assert rules.grid_at_or_after(room, moment) == after, moment
        assert rules.grid_at_or_before(room, moment) == before, moment
        moment += timedelta(minutes=7)


def test_the_grid_at_the_changes_follows_the_wall_clock():
    hourly = space(slot_minutes=60)
    # Spring: 02:00 EET is 00:00 UTC, and the next hour on the clock is 04:00 EEST, 01:00 UTC.
    assert rules.grid_at_or_after(hourly, utc(2027, 3, 28, 0, 30)) == utc(2027, 3, 28, 1)
    # Autumn: 03:00 local happens twice (00:00 and 01:00 UTC); both are on the grid.
    assert rules.on_grid(hourly, utc(2027, 10, 31, 0)) and rules.on_grid(hourly, AUTUMN)
    assert rules.grid_at_or_after(hourly, utc(2027, 10, 31, 0, 30)) == AUTUMN


def test_the_duration_must_be_within_the_limits():
    room = space(min_duration_minutes=60, max_duration_minutes=120)
    start = utc(2027, 1, 12, 16)
    assert rules.check_duration(room, start, start + timedelta(minutes=60)) is None
    assert rules.check_duration(room, start, start + timedelta(minutes=120)) is None
    for minutes in (30, 150, 0, -60):
        end = start + timedelta(minutes=minutes)
        assert rules.check_duration(room, start, end) == RejectReason.DURATION_NOT_ALLOWED


def test_the_party_must_fit():
    assert rules.check_capacity(space(capacity=8), 8) is None
    assert rules.check_capacity(space(capacity=8), 9) == RejectReason.OVER_CAPACITY


def test_the_activity_must_be_offered_when_one_is_named():
    room = space(activities=frozenset({1, 2}))
    assert rules.check_activity(room, None) is None
    assert rules.check_activity(room, 2) is None
    assert rules.check_activity(room, 3) == RejectReason.ACTIVITY_NOT_OFFERED


def test_the_quota_counts_active_bookings():
    assert rules.check_quota(9, 10) is None
    assert rules.check_quota(10, 10) == RejectReason.QUOTA_EXCEEDED


# --- opening hours with dated openings and closures ---------------------------------------------


def local(day, hour, minute=0):
    return datetime(*day, hour, minute, tzinfo=HELSINKI).astimezone(UTC)


def test_an_extra_opening_adds_hours_outside_the_weekly_pattern():
    saturday = date(2027, 1, 16)
    room = space(weekly=MONDAY_8_TO_20, openings=((saturday, 10 * 60, 14 * 60),))
    week = (utc(2027, 1, 10), utc(2027, 1, 18))
    assert rules.open_intervals(room.hours, *week) == (
        (local((2027, 1, 11), 8), local((2027, 1, 11), 20)),
        (local((2027, 1, 16), 10), local((2027, 1, 16), 14)),
    )
    assert rules.check_open(room, local((2027, 1, 16), 11), local((2027, 1, 16), 13)) is None
    closed = rules.check_open(room, local((2027, 1, 16), 13), local((2027, 1, 16), 15))
    assert closed == RejectReason.SPACE_CLOSED


def test_a_closure_takes_whole_days_or_only_its_hours():
    monday, tuesday = date(2027, 1, 11), date(2027, 1, 12)
    whole_days = space(closures=((monday, tuesday, None, None),))
    evening = space(closures=((monday, monday, 17 * 60, 24 * 60),))
    span = (utc(2027, 1, 10, 22), utc(2027, 1, 13, 22))
    assert rules.open_intervals(whole_days.hours, *span) == (
        (local((2027, 1, 13), 0), utc(2027, 1, 13, 22)),
    )
    assert rules.open_intervals(evening.hours, *span)[0] == (
        utc(2027, 1, 10, 22),
        local((2027, 1, 11), 17),
    )
    monday_evening = (local((2027, 1, 11), 18), local((2027, 1, 11), 20))
    assert rules.check_open(evening, *monday_evening) == RejectReason.SPACE_CLOSED
    assert rules.check_open(evening, local((2027, 1, 11), 15), local((2027, 1, 11), 17)) is None


def test_a_closure_wins_over_an_extra_opening():
    saturday = date(2027, 1, 16)
    room = space(
        weekly=(),
        openings=((saturday, 10 * 60, 14 * 60),),
        closures=((saturday, saturday, 12 * 60, 13 * 60),),
    )
    assert rules.open_intervals(room.hours, utc(2027, 1, 16), utc(2027, 1, 17)) == (
        (local((2027, 1, 16), 10), local((2027, 1, 16), 12)),
        (local((2027, 1, 16), 13), local((2027, 1, 16), 14)),
    )


@pytest.mark.parametrize("change", [SPRING, AUTUMN], ids=["spring", "autumn"])
def test_a_closure_on_the_day_of_a_change_is_in_local_time(change):
    day = change.astimezone(HELSINKI).date()
    room = space(closures=((day, day, 16 * 60, 22 * 60),))
    closed = (local(day.timetuple()[:3], 16), local(day.timetuple()[:3], 22))
    assert rules.check_open(room, *closed) == RejectReason.SPACE_CLOSED
    assert rules.check_open(room, closed[0] - timedelta(hours=1), closed[0]) is None


# --- breach: every rule, in the order a person is told ----------------------------------------


def test_breach_names_the_first_broken_rule_and_what_it_concerns():
    room = space(weekly=MONDAY_8_TO_20, lead_time_minutes=0, capacity=8)
    start, end = local((2027, 1, 11), 12), local((2027, 1, 11), 14)

    def first(**changes):
        wanted = {"start": start, "end": end, "party_size": 4, "activity": 1, **changes}
        found = rules.breach(
            room, wanted["start"], wanted["end"], wanted["party_size"], wanted["activity"], NOW
        )
        return found and (found.reason, found.concerns)

    assert first() is None
    assert first(start=NOW - timedelta(hours=1)) == (RejectReason.TOO_LATE, "start")
    assert first(start=start + timedelta(minutes=10)) == (RejectReason.OFF_GRID, "start")
    assert first(end=end + timedelta(minutes=10)) == (RejectReason.OFF_GRID, "end")
    assert first(end=end + timedelta(hours=3)) == (RejectReason.DURATION_NOT_ALLOWED, "end")
    assert first(party_size=9) == (RejectReason.OVER_CAPACITY, "party_size")
    assert first(activity=7) == (RejectReason.ACTIVITY_NOT_OFFERED, "activity")
    late = {"start": local((2027, 1, 11), 19), "end": local((2027, 1, 11), 21)}
    assert first(**late) == (RejectReason.SPACE_CLOSED, "start")


# --- free time and starts ------------------------------------------------------------------------


def test_free_intervals_are_open_clear_of_bookings_on_the_grid_and_long_enough():
    room = space(weekly=MONDAY_8_TO_20, lead_time_minutes=90, buffer_minutes=30)
    busy = rules.widen([(local((2027, 1, 11), 12), local((2027, 1, 11), 14))], room.buffer)
    free = rules.free_intervals(room, busy, utc(2027, 1, 11), utc(2027, 1, 12), NOW)
    # 08:00 + 90 minutes of lead; the booking 12-14 with 30 minutes either side.
    assert free == [
        (local((2027, 1, 11), 9, 30), local((2027, 1, 11), 11, 30)),
        (local((2027, 1, 11), 14, 30), local((2027, 1, 11), 20)),
    ]


def brute_starts(room, start, end, duration, now):
    """Every start that `breach` accepts, minute by minute: the reference for candidate_starts."""
    found, moment = [], start
    while moment + duration <= end:
        if rules.breach(room, moment, moment + duration, 1, None, now) is None:
            found.append(moment)
        moment += MINUTE
    return found


@pytest.mark.parametrize(
    ("values", "duration"),
    [
        ({}, 60),
        ({"slot_minutes": 45, "min_duration_minutes": 45, "max_duration_minutes": 180}, 90),
        ({"slot_minutes": 100, "max_duration_minutes": 300}, 100),
        ({"weekly": (*MONDAY_8_TO_20, (6, 0, 24 * 60))}, 120),
        ({"slot_minutes": 60}, 90),
    ],
)
@pytest.mark.parametrize("change", [SPRING, AUTUMN], ids=["spring", "autumn"])
def test_candidate_starts_are_exactly_the_starts_every_rule_accepts(values, duration, change):
    room = space(lead_time_minutes=0, **values)
    now = change - timedelta(days=1)
    start, end = change - timedelta(hours=20), change + timedelta(hours=20)
    duration = timedelta(minutes=duration)
    starts = rules.candidate_starts(room, start, end, duration, now)
    assert starts == brute_starts(room, start, end, duration, now)


def test_bookings_rule_out_exactly_the_starts_whose_booking_would_meet_them_or_their_buffer():
    room = space(lead_time_minutes=0, buffer_minutes=15)
    day = (utc(2027, 1, 12, 6), utc(2027, 1, 12, 18))
    duration = timedelta(hours=1)
    starts = rules.candidate_starts(room, *day, duration, NOW)
    bookings = [
        (utc(2027, 1, 12, 9), utc(2027, 1, 12, 10)),
        (utc(2027, 1, 12, 10, 30), utc(2027, 1, 12, 11)),
    ]
    busy = rules.widen(bookings, room.buffer)
    ruled = rules.ruled_out(bookings, room.buffer, duration)
    kept = [s for s in starts if not any(lo < s < hi for lo, hi in ruled)]
    assert kept == [s for s in starts if all(s + duration <= b or s >= e for b, e in busy)]
    assert utc(2027, 1, 12, 7, 30) in kept and utc(2027, 1, 12, 8) not in kept


def test_a_start_that_just_fits_between_two_bookings_stays():
    room = space(lead_time_minutes=0)
    duration = timedelta(hours=1)
    bookings = [
        (utc(2027, 1, 12, 9), utc(2027, 1, 12, 10)),
        (utc(2027, 1, 12, 11), utc(2027, 1, 12, 12)),
    ]
    starts = rules.candidate_starts(room, utc(2027, 1, 12, 8), utc(2027, 1, 12, 13), duration, NOW)
    ruled = rules.ruled_out(bookings, room.buffer, duration)
    kept = [s for s in starts if not any(lo < s < hi for lo, hi in ruled)]
    assert kept == [utc(2027, 1, 12, 8), utc(2027, 1, 12, 10), utc(2027, 1, 12, 12)]


def test_a_duration_the_space_does_not_take_has_no_starts():
    room = space(lead_time_minutes=0)
    day = (utc(2027, 1, 12, 6), utc(2027, 1, 12, 18))
    assert len(rules.candidate_starts(room, *day, timedelta(minutes=300), NOW)) == 0
    assert len(rules.candidate_starts(room, *day, timedelta(minutes=75), NOW)) == 0


def test_no_start_lies_beyond_the_max_advance():
    room = space(lead_time_minutes=0, max_advance_days=1)
    starts = rules.candidate_starts(room, NOW, NOW + timedelta(days=3), timedelta(hours=1), NOW)
    assert starts[-1] == NOW + timedelta(days=1)


# --- ranking ------------------------------------------------------------------------------------


def test_offers_rank_by_the_smallest_space_that_fits_then_the_nearest_then_the_earliest():
    early, late = utc(2027, 1, 12, 8), utc(2027, 1, 12, 18)
    offers = [
        (12, 0.5, early, 1),
        (8, 3.0, late, 2),
        (8, 3.0, early, 3),
        (8, 3.0, early, 2),
        (8, 1.0, late, 4),
        (40, None, early, 5),
    ]
    ranked = sorted(offers, key=lambda o: rules.offer_rank(*o))
    assert ranked == [
        (8, 1.0, late, 4),
        (8, 3.0, early, 2),
        (8, 3.0, early, 3),
        (8, 3.0, late, 2),
        (12, 0.5, early, 1),
        (40, None, early, 5),
    ]


def test_alternatives_take_turns_and_rank_by_time():
    wanted = utc(2027, 1, 12, 16)
    times = [
        wanted - timedelta(hours=2),
        wanted + timedelta(hours=2),
        wanted + timedelta(minutes=30),
    ]
    assert sorted(times, key=lambda t: rules.time_rank(t, wanted))[0] == wanted + timedelta(
        minutes=30
    )
    assert rules.interleave(["a1", "a2"], ["b1", "b2", "b3"], limit=4) == ["a1", "b1", "a2", "b2"]
    assert rules.gap_to(
        wanted, wanted - timedelta(hours=1), wanted + timedelta(hours=1)
    ) == timedelta(0)
    assert rules.gap_to(
        wanted, wanted + timedelta(hours=1), wanted + timedelta(hours=2)
    ) == timedelta(hours=1)


def test_rules_are_plain_values_that_compare_and_hash():
    assert space() == space() and hash(space()) == hash(space())
    assert replace(space(), capacity=3) != space()
