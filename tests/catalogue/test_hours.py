"""Opening hours in Helsinki wall-clock time, across daylight-saving changes (pure functions)."""

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from api.catalogue import hours

HELSINKI = ZoneInfo("Europe/Helsinki")
EVERY_DAY_16_TO_22 = [(weekday, 16 * 60, 22 * 60) for weekday in range(7)]


def utc(*args):
    return datetime(*args, tzinfo=UTC)


@pytest.mark.parametrize(
    ("day", "opens_utc", "closes_utc"),
    [
        # Spring forward on Sunday 28 March 2027: EET (+2) before, EEST (+3) from that day.
        ((2027, 3, 27), utc(2027, 3, 27, 14), utc(2027, 3, 27, 20)),
        ((2027, 3, 28), utc(2027, 3, 28, 13), utc(2027, 3, 28, 19)),
        # Fall back on Sunday 31 October 2027: EEST (+3) before, EET (+2) from that day.
        ((2027, 10, 30), utc(2027, 10, 30, 13), utc(2027, 10, 30, 19)),
        ((2027, 10, 31), utc(2027, 10, 31, 14), utc(2027, 10, 31, 20)),
    ],
)
def test_local_hours_become_the_right_utc_instants_on_both_sides_of_a_change(
    day, opens_utc, closes_utc
):
    start = datetime(*day, tzinfo=HELSINKI)
    end = datetime(*day, 23, 59, tzinfo=HELSINKI)
    assert hours.opening_intervals(EVERY_DAY_16_TO_22, HELSINKI, start, end) == [
        (opens_utc, closes_utc)
    ]


def test_a_day_open_around_the_clock_is_23_hours_in_spring_and_25_in_autumn():
    around_the_clock = [(6, 0, 24 * 60)]  # Sundays
    spring = hours.opening_intervals(
        around_the_clock, HELSINKI, utc(2027, 3, 27, 22), utc(2027, 3, 28, 21)
    )
    autumn = hours.opening_intervals(
        around_the_clock, HELSINKI, utc(2027, 10, 30, 21), utc(2027, 10, 31, 22)
    )
    assert spring == [(utc(2027, 3, 27, 22), utc(2027, 3, 28, 21))]
    assert autumn == [(utc(2027, 10, 30, 21), utc(2027, 10, 31, 22))]
    assert [(e - s).total_seconds() / 3600 for s, e in spring + autumn] == [23, 25]


def test_adjacent_days_open_until_midnight_and_from_midnight_merge():
    late = [(4, 20 * 60, 24 * 60), (5, 0, 2 * 60)]  # Friday 20-24, Saturday 00-02
    intervals = hours.opening_intervals(late, HELSINKI, utc(2027, 1, 1), utc(2027, 1, 3))
    assert intervals == [(utc(2027, 1, 1, 18), utc(2027, 1, 2, 0))]


def test_subtract_and_clip():
    day = [(utc(2027, 1, 1, 8), utc(2027, 1, 1, 20))]
    busy = [(utc(2027, 1, 1, 10), utc(2027, 1, 1, 11)), (utc(2027, 1, 1, 19), utc(2027, 1, 2))]
    assert hours.subtract(day, busy) == [
        (utc(2027, 1, 1, 8), utc(2027, 1, 1, 10)),
        (utc(2027, 1, 1, 11), utc(2027, 1, 1, 19)),
    ]
    assert hours.clip(day, utc(2027, 1, 1, 12), utc(2027, 1, 2)) == [
        (utc(2027, 1, 1, 12), utc(2027, 1, 1, 20))
    ]


@pytest.mark.parametrize(
    ("text", "minute"), [("00:00", 0), ("16:30", 990), ("24:00", 1440), ("9:05", 545)]
)
def test_wall_clock_times_parse(text, minute):
    assert hours.parse_minute(text) == minute
    assert hours.parse_minute(hours.format_minute(minute)) == minute


@pytest.mark.parametrize("text", ["24:30", "12:60", "noon", "12", "1:5", "-1:00"])
def test_bad_wall_clock_times_are_refused(text):
    with pytest.raises(ValueError):
        hours.parse_minute(text)


def test_weekly_keys_go_both_ways():
    weekly = [(6, 0, 24 * 60), (0, 16 * 60, 22 * 60), (0, 8 * 60, 12 * 60)]
    assert hours.from_weekly_key(hours.weekly_key(weekly)) == tuple(sorted(weekly))


@pytest.mark.django_db
def test_the_database_keeps_each_spaces_weekly_hours_column_in_step_with_its_hours():
    from django.db import connection

    from api.catalogue.models import OpeningHours
    from tests.factories import SpaceFactory

    def column(space):
        with connection.cursor() as cursor:
            cursor.execute("SELECT weekly_hours FROM catalogue_space WHERE id = %s", [space.pk])
            return hours.from_weekly_key(cursor.fetchone()[0])

    def rows(space):
        return tuple(sorted(space.opening_hours.values_list("weekday", "opens", "closes")))

    space, other = SpaceFactory(opening_hours=[(0, 960, 1320), (2, 600, 720)]), SpaceFactory()
    assert column(space) == rows(space) == ((0, 960, 1320), (2, 600, 720))
    OpeningHours.objects.filter(space=space, weekday=2).update(closes=780)
    OpeningHours.objects.create(space=space, weekday=5, opens=0, closes=1440)
    assert column(space) == rows(space) == ((0, 960, 1320), (2, 600, 780), (5, 0, 1440))
    OpeningHours.objects.filter(space=space, weekday=0).update(space=other)
    assert column(space) == rows(space) and column(other) == rows(other)
    space.opening_hours.all().delete()
    assert column(space) == ()
    assert column(other) == rows(other) and len(rows(other)) == 8
