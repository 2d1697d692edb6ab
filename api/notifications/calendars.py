"""iCalendar documents: a booking's event, a space's busy times, a person's feed.

Times are written in the venue's zone with a VTIMEZONE, so a calendar shows the wall-clock
time of the venue on both sides of a daylight-saving change. Names go in on one line: a
content line cannot hold a line break, and rows made before names were checked may.
"""

from collections.abc import Iterable
from datetime import UTC, date, timedelta

from django.conf import settings
from django.utils import timezone
from icalendar import Calendar, Event

from api.bookings import series as booking_series
from api.bookings.choices import BookingStatus
from api.bookings.models import Booking, BookingRequest, BookingSeries
from api.catalogue.models import Space
from api.notifications import texts
from api.text import one_line

PRODID = "-//FlexiSpace//Bookings//EN"


def _calendar(name: str, events: list[Event]) -> Calendar:
    calendar = Calendar()
    calendar.add("prodid", PRODID)
    calendar.add("version", "2.0")
    calendar.add("calscale", "GREGORIAN")
    calendar.add("x-wr-calname", one_line(name))
    for event in events:
        calendar.add_component(event)
    starts = [event.decoded("dtstart").date() for event in events]
    # The zones' rules around the events only: a VTIMEZONE of every rule since 1970 is long.
    first = min(starts, default=timezone.now().date()) - timedelta(days=366)
    last = max(starts, default=timezone.now().date()) + timedelta(days=366)
    calendar.add_missing_timezones(first_date=first, last_date=last)
    if not events:
        # An empty feed still says which zone it is in.
        calendar.add_component(_zone_only(first, last))
    return calendar


def _zone_only(first: date, last: date):
    from icalendar import Timezone

    return Timezone.from_tzid(settings.TIME_ZONE, first_date=first, last_date=last)


def _event(booking: Booking, summary: str, description: str = "", private: bool = True) -> Event:
    zone = booking.space.venue.zone
    event = Event()
    event.add("uid", f"booking-{booking.pk}@flexispace")
    event.add("dtstamp", timezone.now().astimezone(UTC))
    event.add("dtstart", booking.start.astimezone(zone))
    event.add("dtend", booking.end.astimezone(zone))
    event.add("summary", one_line(summary))
    if private:
        venue = booking.space.venue
        event.add("location", one_line(f"{booking.space.name}, {venue.name}, {venue.address}"))
        event.add("geo", (venue.latitude, venue.longitude))
        event.add("status", "CANCELLED" if booking.status == "cancelled" else "CONFIRMED")
        event.add("url", texts.booking_url(booking))
    else:
        event.add("transp", "OPAQUE")
        event.add("class", "PUBLIC")
    if description:
        event.add("description", description)
    return event


def _owner_event(booking: Booking, language: str, access_code: str | None) -> Event:
    words = texts.words(language)
    lines = []
    if access_code:
        lines.append(f"{words['access_code']}: {access_code}")
    lines.append(f"{words['address']}: {one_line(booking.space.venue.address)}")
    lines.append(f"{words['how_to_cancel']}: {texts.booking_url(booking)}")
    return _event(booking, f"{booking.space.name}, {booking.space.venue.name}", "\n".join(lines))


def booking_ics(booking: Booking, access_code: str | None = None) -> bytes:
    """One booking, for its owner: the access code is in the description."""
    language = booking.user.language
    calendar = _calendar(
        f"FlexiSpace {booking.space.name}",
        [_owner_event(booking, language, access_code)],
    )
    return calendar.to_ical()


def space_busy_ics(space: Space, bookings: Iterable[Booking]) -> bytes:
    """When a space is taken; nothing about who took it or why."""
    events = [
        _event(booking, texts.words(settings.LANGUAGE_CODE)["busy"], private=False)
        for booking in bookings
    ]
    return _calendar(f"{space.venue.name} / {space.name}", events).to_ical()


def personal_ics(user, bookings: Iterable[Booking]) -> bytes:
    """A person's bookings, for a calendar subscription; the codes stay in the app and mail."""
    events = [_owner_event(booking, user.language, None) for booking in bookings]
    return _calendar("FlexiSpace", events).to_ical()


ICAL_WEEKDAYS = ("MO", "TU", "WE", "TH", "FR", "SA", "SU")


def series_ics(series: BookingSeries, occurrences: list[BookingRequest]) -> bytes:
    """A weekly series as one event that recurs (RRULE) at its local wall-clock time, with an
    EXDATE for every occurrence not booked (refused, cancelled, not yet decided), so a calendar
    shows exactly the weeks the person holds. Each booked occurrence also has its own event and
    code (booking_ics)."""
    space, venue = series.space, series.space.venue
    zone = venue.zone
    planned = booking_series.occurrences_of(series)
    _, first_start, first_end = planned[0]
    booked = {
        occurrence.start
        for occurrence in occurrences
        if booking_series.status_of(occurrence) in BookingStatus.live()
    }
    event = Event()
    event.add("uid", f"series-{series.pk}@flexispace")
    event.add("dtstamp", timezone.now().astimezone(UTC))
    event.add("dtstart", first_start.astimezone(zone))
    event.add("dtend", first_end.astimezone(zone))
    event.add(
        "rrule",
        {
            "freq": "weekly",
            "byday": [ICAL_WEEKDAYS[day] for day in series.weekdays],
            "until": planned[-1][1].astimezone(UTC),
        },
    )
    for _, start, _ in planned:
        if start not in booked:
            event.add("exdate", start.astimezone(zone))
    event.add("summary", one_line(f"{space.name}, {venue.name}"))
    event.add("location", one_line(f"{space.name}, {venue.name}, {venue.address}"))
    words = texts.words(series.user.language)
    event.add("description", f"{words['address']}: {one_line(venue.address)}")
    return _calendar(f"FlexiSpace {space.name}", [event]).to_ical()
