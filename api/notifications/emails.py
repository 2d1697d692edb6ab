"""Turning an outbox row into an email: plain text and HTML in the recipient's language.

Templates live in templates/notifications/email/<kind>.{subject.txt,txt,html}, one set whose
words come from the gettext catalogs (api/locale/), rendered in the recipient's language; this
module builds what they show (local times in the venue's zone, the reason in words, the
alternatives) so the templates hold only words.
"""

from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.template.loader import render_to_string
from django.utils import timezone, translation
from django.utils.translation import ngettext

from api.bookings.alternatives import alternatives
from api.bookings.choices import RejectReason
from api.bookings.models import BookingRequest
from api.catalogue.models import Space
from api.notifications import calendars, texts
from api.notifications.choices import NotificationKind
from api.notifications.models import Notification


@dataclass
class Alternative:
    space: Space
    start: datetime
    end: datetime


def build_message(
    notification: Notification,
    access_code: str | None = None,
    alternatives: list[Alternative] = (),
) -> EmailMultiAlternatives:
    language = texts.language_of(notification.language)
    booking, request = notification.booking, notification.request
    subject_of = booking or request
    # A flexible request that was rejected has no space: its window is shown, in the city's zone.
    space = subject_of.space
    zone = space.venue.zone if space else ZoneInfo(settings.TIME_ZONE)
    if space is None:
        when = texts.local_span(request.window_start, request.window_end, zone, language)
    else:
        when = texts.local_span(subject_of.start, subject_of.end, zone, language)
    template = notification.kind
    if (
        notification.kind == NotificationKind.ACCESS_PROBLEM
        and booking.user_id != notification.recipient_id
    ):
        template = "access_problem_operator"
    context = {
        "language": language,
        "recipient": notification.recipient,
        "booking": booking,
        "request": request,
        "space": space,
        "venue": space.venue if space else None,
        "when": when,
        "zone": str(zone),
        "activity_name": getattr(request.activity, f"name_{language}", "") if request else "",
        "access_code": access_code,
        "booking_url": texts.booking_url(booking) if booking else "",
        "cancel_api": f"POST {settings.PUBLIC_URL}/api/v1/bookings/{booking.pk}/cancel/"
        if booking
        else "",
        "reason": texts.reason_in_words(getattr(request, "reason", None), language),
        "alternatives": [
            {
                "space": alt.space,
                "venue": alt.space.venue,
                "when": texts.local_span(alt.start, alt.end, alt.space.venue.zone, language),
            }
            for alt in alternatives
        ],
        "lead": _lead(notification.reminder_minutes, language),
        # Fair use: a booking released as a no-show, and the pause the person is under.
        "no_show": texts.no_show_in_words(language) if booking and booking.no_show_at else "",
        "pause_note": texts.pause_note(_pause_of(notification.recipient), zone, language),
        "public_url": settings.PUBLIC_URL,
    }
    base = f"notifications/email/{template}"
    with translation.override(language):
        subject = " ".join(render_to_string(f"{base}.subject.txt", context).split())
        body = render_to_string(f"{base}.txt", context)
        html = render_to_string(f"{base}.html", context)
    message = EmailMultiAlternatives(
        subject=subject,
        body=body,
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=[notification.recipient.email],
        headers={
            "Message-ID": notification.message_id,
            "Content-Language": language,
            "Auto-Submitted": "auto-generated",
            "X-FlexiSpace-Notification": f"{notification.kind}:{notification.pk}",
        },
    )
    message.attach_alternative(html, "text/html")
    if notification.kind == NotificationKind.BOOKING_CONFIRMED:
        message.attach(
            f"booking-{booking.pk}.ics",
            calendars.booking_ics(booking, access_code).decode(),
            "text/calendar",
        )
    return message


def _pause_of(person):
    """The end of the person's pause from new bookings, if one is running."""
    until = person.paused_until
    return until if until is not None and until > timezone.now() else None


def _lead(minutes: int, language: str) -> str:
    """How long before the start a reminder is: '24 tunnin', '2 timmar', '30 minutes'."""
    if not minutes:
        return ""
    with translation.override(language):
        if minutes % 60:
            return ngettext("%(count)d minute", "%(count)d minutes", minutes) % {"count": minutes}
        hours = minutes // 60
        return ngettext("an hour", "%(count)d hours", hours) % {"count": hours}


def rejected_alternatives(request: BookingRequest, limit: int = 3) -> list[Alternative]:
    """Up to `limit` free slots like the ones a rejected request wanted (bookings.alternatives)."""
    if request.reason in (RejectReason.QUOTA_EXCEEDED, RejectReason.PAUSED):
        return []  # any other slot would be refused for the same reason
    offers = alternatives(request, limit=limit)
    spaces = Space.objects.select_related("venue").in_bulk({offer.space for offer in offers})
    return [Alternative(spaces[offer.space], offer.start, offer.end) for offer in offers]
