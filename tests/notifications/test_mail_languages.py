"""Every mail, in every language, from one template set and the gettext catalogs: a Finnish or
Swedish mail shares no sentence with the English one (a template string missing from the
catalogs would show through in English), and the reminder's lead is worded in each language."""

import re
from datetime import UTC, datetime, timedelta

import pytest
from django.core.mail import EmailMultiAlternatives

from api.notifications import emails
from api.notifications.choices import NotificationKind
from api.notifications.models import Notification
from tests.factories import (
    ActivityFactory,
    BookingFactory,
    BookingRequestFactory,
    SpaceFactory,
    UserFactory,
)

pytestmark = pytest.mark.django_db
START = datetime(2027, 3, 27, 16, tzinfo=UTC)  # Saturday 18.00 in Helsinki


def every_mail(language: str) -> dict[str, EmailMultiAlternatives]:
    person = UserFactory(name="Fiona", language=language)
    space = SpaceFactory(name="Band room 2")
    booking = BookingFactory(user=person, space=space, start=START, end=START + timedelta(hours=2))

    def rejected():
        return BookingRequestFactory(
            user=person, space=space, start=START, end=START + timedelta(hours=2),
            status="rejected", reason="slot_taken",
        )  # fmt: skip

    flexible = BookingRequestFactory(
        user=person, space=None, start=None, end=None, activity=ActivityFactory(),
        window_start=START, window_end=START + timedelta(hours=6), duration_minutes=60,
        status="rejected", reason="no_space_available",
    )  # fmt: skip
    free = [emails.Alternative(space, START + timedelta(hours=3), START + timedelta(hours=5))]

    def message(kind, recipient=person, alternatives=(), **about):
        row = Notification.objects.create(
            recipient=recipient, kind=kind, language=language, reminder_minutes=60, **about
        )
        return emails.build_message(row, access_code="482913", alternatives=alternatives)

    return {
        "confirmed": message(NotificationKind.BOOKING_CONFIRMED, booking=booking),
        "cancelled": message(NotificationKind.BOOKING_CANCELLED, booking=booking),
        "reminder": message(NotificationKind.REMINDER, booking=booking),
        "access": message(NotificationKind.ACCESS_PROBLEM, booking=booking),
        "operator": message(NotificationKind.ACCESS_PROBLEM, UserFactory(), booking=booking),
        "rejected": message(
            NotificationKind.REQUEST_REJECTED, request=rejected(), alternatives=free
        ),
        "rejected_no_alternative": message(NotificationKind.REQUEST_REJECTED, request=rejected()),
        "flexible": message(NotificationKind.REQUEST_REJECTED, request=flexible),
    }


def lines(message) -> set[str]:
    [(html, _)] = message.alternatives
    text = "\n".join([message.subject, message.body, re.sub(r"<[^>]+>", " ", html)])
    return {" ".join(line.split()) for line in text.splitlines()} - {"", "--"}


@pytest.mark.parametrize("language", ["fi", "sv"])
def test_no_english_sentence_shows_through_a_finnish_or_swedish_mail(language):
    english, other = every_mail("en"), every_mail(language)
    for kind, message in other.items():
        assert message.extra_headers["Content-Language"] == language
        assert not lines(message) & lines(english[kind]), kind


@pytest.mark.parametrize(
    ("minutes", "language", "lead"),
    [
        (1440, "fi", "alkaa noin 24 tunnin kuluttua"),
        (60, "fi", "alkaa noin tunnin kuluttua"),
        (60, "sv", "börjar om cirka en timme"),
        (120, "sv", "börjar om cirka 2 timmar"),
        (30, "sv", "börjar om cirka 30 minuter"),
        (60, "en", "starts in about an hour"),
        (1, "en", "starts in about 1 minute"),
    ],
)
def test_a_reminder_words_its_lead_in_the_readers_language(minutes, language, lead):
    booking = BookingFactory(user=UserFactory(language=language), start=START)
    row = Notification.objects.create(
        recipient=booking.user, kind=NotificationKind.REMINDER, language=language,
        booking=booking, reminder_minutes=minutes,
    )  # fmt: skip
    message = emails.build_message(row)
    assert lead in message.body
    assert lead in message.alternatives[0][0]
