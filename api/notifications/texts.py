"""Words and local times in the three languages, as plain functions on plain values."""

from datetime import datetime
from zoneinfo import ZoneInfo

from django.conf import settings
from django.utils import translation
from django.utils.translation import gettext_lazy as _

LANGUAGES = ("fi", "sv", "en")
DASH = "\N{EN DASH}"

WEEKDAYS = {
    "fi": ["ma", "ti", "ke", "to", "pe", "la", "su"],
    "sv": ["mån", "tis", "ons", "tors", "fre", "lör", "sön"],
    "en": ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"],
}
MONTHS_EN = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]

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


def local_day(instant: datetime, zone: ZoneInfo, language: str) -> str:
    """'ti 1.12.2026', 'tis 1.12.2026', 'Tue 1 Dec 2026' in the venue's zone."""
    local = instant.astimezone(zone)
    weekday = WEEKDAYS[language_of(language)][local.weekday()]
    if language_of(language) == "en":
        return f"{weekday} {local.day} {MONTHS_EN[local.month - 1]} {local.year}"
    return f"{weekday} {local.day}.{local.month}.{local.year}"


def local_time(instant: datetime, zone: ZoneInfo, language: str) -> str:
    """'18.00' in Finnish and Swedish, '18:00' in English."""
    local = instant.astimezone(zone)
    separator = ":" if language_of(language) == "en" else "."
    return f"{local.hour:02d}{separator}{local.minute:02d}"


# Between a day and a time: 'ti 1.12.2026 klo 18.00'.
AT = {"fi": " klo ", "sv": " kl. ", "en": ", "}


def local_moment(instant: datetime, zone: ZoneInfo, language: str) -> str:
    """'ti 1.12.2026 klo 18.00', 'tis 1.12.2026 kl. 18.00', 'Tue 1 Dec 2026, 18:00'."""
    at = AT[language_of(language)]
    return local_day(instant, zone, language) + at + local_time(instant, zone, language)


def local_span(start: datetime, end: datetime, zone: ZoneInfo, language: str) -> str:
    """The day and the times of [start, end) in the venue's zone, in the reader's language.

    'ti 1.12.2026 klo 18.00-20.00' (with an en dash); an interval that crosses midnight names both days.
    """
    at = AT[language_of(language)]
    first = local_moment(start, zone, language)
    if start.astimezone(zone).date() == end.astimezone(zone).date():
        return f"{first}{DASH}{local_time(end, zone, language)}"
    return f"{first} {DASH} {local_day(end, zone, language)}{at}{local_time(end, zone, language)}"


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
