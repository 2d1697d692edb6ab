"""Words and local times in the three languages, as plain functions on plain values."""

from datetime import datetime
from zoneinfo import ZoneInfo

from django.conf import settings
from django.utils import dateformat, translation
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

LANGUAGES = ("fi", "sv", "en")

# Words the mails and calendars use outside their templates (api/locale/ has them in fi and sv).
WORDS = {
    "access_code": _("Door code"),
    "address": _("Address"),
    "how_to_cancel": _("Cancel the booking"),
    "busy": _("Busy"),
}

# What a rejection reason (RejectReason) means, for the person who asked.
REASONS = {
    "slot_taken": _("Someone else booked the slot first."),
    "quota_exceeded": _("You already hold the most active bookings allowed."),
    "space_closed": _("The space is not open for the whole time you asked for."),
    "too_late": _("The slot starts too soon to be booked."),
    "too_far_ahead": _("The slot is further ahead than the space takes bookings."),
    "off_grid": _("The slot no longer fits the space's booking grid."),
    "duration_not_allowed": _("The space no longer takes bookings that long or that short."),
    "over_capacity": _("Your party is larger than the space holds."),
    "activity_not_offered": _("The space no longer offers the activity."),
    "no_space_available": _("No space matched your request."),
    "weekly_hours_exceeded": _("You would book more hours in that week than fair use allows."),
    "paused": _("Your new bookings are paused after repeated no-shows."),
    "lost_draw": _("In the draw, others were drawn before you for the slot."),
    "series_cancelled": _("The series was cancelled before this occurrence was decided."),
}
# Fair use: why a booking was released, and until when a person's new bookings wait.
NO_SHOW = _(
    "The door code was not used in time after the start, so the booking was released "
    "for others (a no-show)."
)
PAUSED_UNTIL = _("Your new bookings are paused until %(until)s after repeated no-shows.")
UNKNOWN_REASON = _("The request could not be accepted.")


def language_of(value: str | None) -> str:
    return value if value in LANGUAGES else settings.LANGUAGE_CODE


def words(language: str) -> dict[str, str]:
    with translation.override(language_of(language)):
        return {key: str(text) for key, text in WORDS.items()}


def reason_in_words(code: str | None, language: str) -> str:
    with translation.override(language_of(language)):
        return str(REASONS.get(code or "", UNKNOWN_REASON))


# How a mail or a calendar writes a day and a time, as Django date formats: the weekday and month
# names come from Django's own fi/sv catalogs, the order and the separators from api/locale/
# (the Finnish way, 'ti 1.12.2026 klo 18.00', in Finland's Swedish too; Django's sv formats
# are Sweden's). The en dashes are literal because xgettext reads no \N{} escapes.
DAY_FORMAT = pgettext_lazy("date format of a day in mails", "D j M Y")
TIME_FORMAT = pgettext_lazy("time format in mails", "H:i")
SAME_DAY = _("%(day)s, %(start)s–%(end)s")  # noqa: RUF001
OVERNIGHT = _("%(day)s, %(start)s – %(end_day)s, %(end)s")  # noqa: RUF001
MOMENT = _("%(day)s, %(time)s")


def local_moment(instant: datetime, zone: ZoneInfo, language: str) -> str:
    """'ti 1.12.2026 klo 18.00', 'tis 1.12.2026 kl. 18.00', 'Tue 1 Dec 2026, 18:00'."""
    instant = instant.astimezone(zone)
    with translation.override(language_of(language)):
        return str(MOMENT) % {
            "day": dateformat.format(instant, str(DAY_FORMAT)),
            "time": dateformat.format(instant, str(TIME_FORMAT)),
        }


def local_span(start: datetime, end: datetime, zone: ZoneInfo, language: str) -> str:
    """The day and the times of [start, end) in the venue's zone, in the reader's language.

    'ti 1.12.2026 klo 18.00-20.00', 'tis 1.12.2026 kl. 18.00-20.00', 'Tue 1 Dec 2026,
    18:00-20:00' (with an en dash); an interval that crosses midnight names both days.
    """
    start, end = start.astimezone(zone), end.astimezone(zone)
    with translation.override(language_of(language)):
        parts = {
            "day": dateformat.format(start, str(DAY_FORMAT)),
            "start": dateformat.format(start, str(TIME_FORMAT)),
            "end_day": dateformat.format(end, str(DAY_FORMAT)),
            "end": dateformat.format(end, str(TIME_FORMAT)),
        }
        if start.date() == end.date():
            return str(SAME_DAY) % parts
        return str(OVERNIGHT) % parts


def booking_url(booking) -> str:
    """The booking on the citizen's page, where its owner, once logged in, sees and cancels
    it (the API's own URL needs a token that a mail or a calendar cannot carry)."""
    return f"{settings.PUBLIC_URL}/#booking-{booking.pk}"


def no_show_in_words(language: str) -> str:
    with translation.override(language_of(language)):
        return str(NO_SHOW)


def pause_note(paused_until: datetime | None, zone: ZoneInfo, language: str) -> str:
    """'Your new bookings are paused until …' in the venue's zone, or '' without a pause."""
    if paused_until is None:
        return ""
    until = local_moment(paused_until, zone, language)
    with translation.override(language_of(language)):
        return str(PAUSED_UNTIL) % {"until": until}
