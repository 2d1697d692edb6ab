"""Fair use: the caps, the no-show release and the pause after repeated no-shows."""

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import time_machine

from api.access import services as access
from api.access.choices import WithdrawReason
from api.bookings import availability, no_shows, rules
from api.bookings.choices import BookingStatus, RejectReason
from api.notifications import emails
from api.notifications.choices import NotificationKind
from api.notifications.models import Notification
from tests.access.conftest import enrol
from tests.bookings.test_allocation import decide
from tests.factories import BookingFactory, SpaceFactory, UserFactory

HELSINKI = ZoneInfo("Europe/Helsinki")
FAIR = rules.FairUse(
    max_active_bookings=10,
    max_weekly_hours=20,
    no_show_after_minutes=15,
    no_show_limit=2,
    no_show_period_days=30,
    pause_days=14,
)
START = datetime(2027, 3, 3, 16, tzinfo=UTC)  # a Wednesday, 18:00 in Helsinki


# --- the rules alone ---------------------------------------------------------------------------


def test_the_week_is_the_local_monday_to_monday_across_a_change():
    # The week of the spring change: Monday 22 March 00:00 +02:00 to Monday 29 March +03:00.
    start, end = rules.week_of(HELSINKI, datetime(2027, 3, 28, 12, tzinfo=UTC))
    assert start == datetime(2027, 3, 21, 22, tzinfo=UTC)
    assert end == datetime(2027, 3, 28, 21, tzinfo=UTC)
    # A Sunday evening late in local time is still that week.
    assert rules.week_of(HELSINKI, datetime(2027, 3, 28, 20, 59, tzinfo=UTC))[0] == start


def test_the_weekly_hours_cap_counts_what_is_held_and_what_is_asked():
    assert rules.check_weekly_hours(timedelta(hours=18), timedelta(hours=2), 20) is None
    assert (
        rules.check_weekly_hours(timedelta(hours=18), timedelta(hours=2, minutes=30), 20)
        == RejectReason.WEEKLY_HOURS_EXCEEDED
    )


def test_a_pause_holds_until_its_end():
    until = START + timedelta(days=1)
    assert rules.check_paused(until, START) == RejectReason.PAUSED
    assert rules.check_paused(until, until) is None
    assert rules.check_paused(None, START) is None


def test_a_no_show_is_one_with_a_lock_not_checked_in_past_its_time():
    end = START + timedelta(hours=2)
    at = START + timedelta(minutes=15)
    assert rules.is_no_show(FAIR, START, end, None, True, at)
    assert not rules.is_no_show(FAIR, START, end, None, True, at - timedelta(seconds=1))
    assert not rules.is_no_show(FAIR, START, end, START, True, at)  # checked in
    assert not rules.is_no_show(FAIR, START, end, None, False, at)  # no lock: exempt
    assert not rules.is_no_show(FAIR, START, end, None, True, end)  # over


def test_the_limit_of_no_shows_in_the_period_earns_a_pause():
    now = START
    assert rules.pause_until(FAIR, [now - timedelta(days=1)], now) is None
    two = [now - timedelta(days=29), now]
    assert rules.pause_until(FAIR, two, now) == now + timedelta(days=14)
    # One of them out of the period: no pause.
    assert rules.pause_until(FAIR, [now - timedelta(days=31), now], now) is None


@pytest.mark.django_db
def test_a_venue_has_the_defaults_unless_it_sets_its_own(settings):
    settings.MAX_WEEKLY_HOURS_PER_USER = 7
    space = SpaceFactory()
    assert availability.fair_use_of(space.venue).max_weekly_hours == 7
    space.venue.max_weekly_hours = 3
    assert availability.fair_use_of(space.venue).max_weekly_hours == 3


# --- caps, decided by the worker ----------------------------------------------------------------


@pytest.mark.django_db
def test_the_weekly_hours_cap_refuses_the_booking_that_would_pass_it():
    space = SpaceFactory()
    space.venue.max_weekly_hours = 4
    space.venue.save()
    person = UserFactory()
    with time_machine.travel(START - timedelta(days=2), tick=False):
        first = decide(user=person, space=space, start=START, end=START + timedelta(hours=3))
        over = decide(
            user=person,
            space=space,
            start=START + timedelta(days=1),
            end=START + timedelta(days=1, hours=2),
        )
        fits = decide(
            user=person,
            space=space,
            start=START + timedelta(days=1),
            end=START + timedelta(days=1, hours=1),
        )
        # Next week counts afresh.
        next_week = decide(
            user=person,
            space=space,
            start=START + timedelta(days=7),
            end=START + timedelta(days=7, hours=4),
        )
    assert [first.reason, over.reason, fits.reason, next_week.reason] == [
        None,
        "weekly_hours_exceeded",
        None,
        None,
    ]


@pytest.mark.django_db
def test_the_active_booking_cap_is_the_venues_own():
    space = SpaceFactory()
    space.venue.max_active_bookings = 1
    space.venue.save()
    person = UserFactory()
    with time_machine.travel(START - timedelta(days=2), tick=False):
        first = decide(user=person, space=space, start=START, end=START + timedelta(hours=1))
        second = decide(
            user=person,
            space=space,
            start=START + timedelta(days=1),
            end=START + timedelta(days=1, hours=1),
        )
    assert (first.reason, second.reason) == (None, "quota_exceeded")


# --- no-shows -----------------------------------------------------------------------------------


def booked_with_lock(space=None, user=None, start=START, hours=2):
    """A confirmed booking on a space with a lock, with its grant."""
    space = space or SpaceFactory()
    if not hasattr(space, "lock"):
        enrol(space)
    booking = BookingFactory(
        space=space, user=user or UserFactory(), start=start, end=start + timedelta(hours=hours)
    )
    access.create_grant(booking)
    return booking


@pytest.mark.django_db
def test_a_booking_not_checked_in_is_released_at_its_no_show_time():
    with time_machine.travel(START - timedelta(days=1), tick=False):
        booking = booked_with_lock()
    assert no_shows.release_no_shows(START + timedelta(minutes=14, seconds=59)) == 0
    booking.refresh_from_db()
    assert booking.status == BookingStatus.CONFIRMED
    assert no_shows.release_no_shows(START + timedelta(minutes=15)) == 1
    booking.refresh_from_db()
    assert booking.status == BookingStatus.CANCELLED
    assert booking.no_show_at == START + timedelta(minutes=15)
    assert booking.grant.withdrawn_at is not None
    assert booking.grant.withdraw_reason == WithdrawReason.NO_SHOW
    # Run again: nothing more.
    assert no_shows.release_no_shows(START + timedelta(minutes=16)) == 0
    # Its owner is told why.
    notification = Notification.objects.get(
        booking=booking, kind=NotificationKind.BOOKING_CANCELLED
    )
    body = emails.build_message(notification).body
    assert "käyttämättä jäänyt varaus" in body


@pytest.mark.django_db
def test_the_venue_sets_the_no_show_time():
    space = SpaceFactory()
    space.venue.no_show_after_minutes = 30
    space.venue.save()
    with time_machine.travel(START - timedelta(days=1), tick=False):
        booked_with_lock(space)
    assert no_shows.release_no_shows(START + timedelta(minutes=29)) == 0
    assert no_shows.release_no_shows(START + timedelta(minutes=30)) == 1


@pytest.mark.django_db
def test_a_checked_in_booking_and_a_space_without_a_lock_are_never_released():
    with time_machine.travel(START - timedelta(days=1), tick=False):
        checked_in = booked_with_lock()
        checked_in.checked_in_at = START + timedelta(minutes=3)
        checked_in.save()
        without_lock = BookingFactory(start=START, end=START + timedelta(hours=2))
    assert no_shows.release_no_shows(START + timedelta(minutes=30)) == 0
    without_lock.refresh_from_db()
    assert without_lock.status == BookingStatus.CONFIRMED


@pytest.mark.django_db
def test_repeated_no_shows_pause_new_bookings_with_the_reason_and_the_end(as_owner, owner):
    space = SpaceFactory()
    space.venue.no_show_limit = 2
    space.venue.pause_days = 14
    space.venue.save()
    with time_machine.travel(START - timedelta(days=1), tick=False):
        booked_with_lock(space, owner, START)
        booked_with_lock(space, owner, START + timedelta(days=1))
    no_shows.release_no_shows(START + timedelta(minutes=20))
    owner.refresh_from_db()
    assert owner.paused_until is None
    second_release = START + timedelta(days=1, minutes=20)
    no_shows.release_no_shows(second_release)
    owner.refresh_from_db()
    assert owner.paused_until == second_release + timedelta(days=14)
    with time_machine.travel(second_release + timedelta(minutes=1), tick=False):
        me = as_owner.get("/api/v1/auth/me/").json()
        assert (me["paused_until"], me["no_shows"]) == ("2027-03-18T16:20:00Z", 2)
        paused = decide(
            user=owner,
            space=space,
            start=START + timedelta(days=3),
            end=START + timedelta(days=3, hours=1),
        )
        assert (paused.status, paused.reason) == ("rejected", "paused")
        # The email gives the reason and the end of the pause, in the venue's local time.
        notification = Notification.objects.get(request=paused)
        body = emails.build_message(notification).body
        assert "tauolla" in body and "to 18.3.2027 klo 18.20" in body
    with time_machine.travel(owner.paused_until + timedelta(minutes=1), tick=False):
        later = START + timedelta(days=17)
        after = decide(user=owner, space=space, start=later, end=later + timedelta(hours=1))
        assert after.status == "confirmed"
        assert as_owner.get("/api/v1/auth/me/").json()["paused_until"] is None
