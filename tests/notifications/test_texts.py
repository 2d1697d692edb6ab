"""Local times in words, without a database."""

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from api.bookings.choices import RejectReason
from api.notifications import texts
from api.notifications.models import backoff

HELSINKI = ZoneInfo("Europe/Helsinki")


@pytest.mark.parametrize(
    ("start", "language", "expected"),
    [
        # Saturday before summer time begins (UTC+2), and Monday after (UTC+3).
        (datetime(2027, 3, 27, 16, tzinfo=UTC), "fi", "la 27.3.2027 klo 18.00\N{EN DASH}20.00"),
        (datetime(2027, 3, 29, 15, tzinfo=UTC), "fi", "ma 29.3.2027 klo 18.00\N{EN DASH}20.00"),
        (datetime(2027, 10, 30, 15, tzinfo=UTC), "sv", "lör 30.10.2027 kl. 18.00\N{EN DASH}20.00"),
        (datetime(2027, 11, 1, 16, tzinfo=UTC), "en", "Mon 1 Nov 2027, 18:00\N{EN DASH}20:00"),
    ],
)
def test_a_span_is_told_in_the_venues_wall_clock_time(start, language, expected):
    end = start.replace(hour=start.hour + 2)
    assert texts.local_span(start, end, HELSINKI, language) == expected


def test_a_span_over_midnight_names_both_days():
    start = datetime(2027, 1, 8, 21, tzinfo=UTC)
    end = datetime(2027, 1, 9, 0, tzinfo=UTC)
    assert (
        texts.local_span(start, end, HELSINKI, "en")
        == "Fri 8 Jan 2027, 23:00 \N{EN DASH} Sat 9 Jan 2027, 02:00"
    )


def test_an_unknown_language_or_reason_falls_back():
    assert texts.reason_in_words("slot_taken", "de") == "Joku ehti varata ajan ennen sinua."
    assert texts.reason_in_words("mystery", "en") == "The request could not be accepted."


@pytest.mark.parametrize("reason", RejectReason.values)
def test_every_rejection_reason_has_words_of_its_own_in_every_language(reason):
    english = texts.reason_in_words(reason, "en")
    assert english != texts.reason_in_words("mystery", "en")
    for language in ("fi", "sv"):
        assert texts.reason_in_words(reason, language) not in ("", english)


def test_backoff_doubles_up_to_its_cap():
    waits = [backoff(n, base=30, cap=300).total_seconds() for n in range(1, 7)]
    assert waits == [30, 60, 120, 240, 300, 300]
