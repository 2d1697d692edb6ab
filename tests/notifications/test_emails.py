"""Each kind of email, sent by the real worker through a real SMTP server, once, in the
recipient's language and with the venue's local times."""

from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.conf import settings
from django.db import transaction
from django.utils import timezone
from icalendar import Calendar

from api.access import services as access
from api.access.models import Grant
from api.bookings import services as bookings
from api.bookings.models import Booking, BookingRequest
from api.notifications import services
from api.notifications.choices import NotificationKind, NotificationState
from api.notifications.models import Notification
from tests.conftest import client_for, wait_for
from tests.factories import BookingFactory, SpaceFactory, UserFactory
from tests.notifications.conftest import html_of, text_of

pytestmark = pytest.mark.django_db(transaction=True)
HELSINKI = ZoneInfo("Europe/Helsinki")


def subject(message) -> str:
    return str(message["Subject"]).strip()


def tomorrow_at(hour: int) -> datetime:
    day = timezone.now().astimezone(HELSINKI).date() + timedelta(days=1)
    return datetime.combine(day, time(hour), tzinfo=HELSINKI)


def request_through_api(user, space, start, end, **extra):
    client = client_for(user)
    body = {"space": space.pk, "start": start.isoformat(), "end": end.isoformat(), **extra}
    return decided(client.post("/api/v1/booking-requests/", body, format="json"))


def decided(response) -> BookingRequest:
    """The request a 202 accepted, once the worker has decided it."""
    assert response.status_code == 202, response.json()
    request_id = response.json()["id"]
    wait_for(
        lambda: BookingRequest.objects.filter(pk=request_id).exclude(status="pending").exists(),
        message="the decision",
    )
    return BookingRequest.objects.get(pk=request_id)


def sent(notification: Notification, smtp, count: int = 1):
    """Wait until the row is sent and the server holds `count` messages for it; return them."""
    wait_for(
        lambda: (
            Notification.objects.filter(pk=notification.pk, state="sent").exists()
            and len(smtp.about(notification)) >= count
        ),
        message=f"{notification.kind} to be sent",
    )
    return smtp.about(notification)


def test_a_confirmed_booking_mails_the_code_times_address_and_calendar_in_finnish(
    celery_worker, smtp
):
    person = UserFactory(email="fiona@example.org", name="Fiona", language="fi")
    space = SpaceFactory(name="Bänditila 2", venue__address="Työpajankatu 8, 00580 Helsinki")
    access.enrol_lock("kalasatama-band-2", space)
    start, end = tomorrow_at(18), tomorrow_at(20)
    request = request_through_api(person, space, start, end, party_size=4)
    assert request.status == "confirmed"
    notification = Notification.objects.get(request=request)
    assert (notification.kind, notification.recipient, notification.language) == (
        NotificationKind.BOOKING_CONFIRMED,
        person,
        "fi",
    )
    [message] = sent(notification, smtp)
    code = Grant.objects.get(booking=request.booking).code
    day = start.date()
    text = text_of(message)
    assert message["To"] == "fiona@example.org"
    assert subject(message).startswith("Varaus vahvistettu: Bänditila 2")
    assert message["Content-Language"] == "fi"
    for shown in (
        "Hei Fiona,",
        "Bänditila 2",
        "Työpajankatu 8, 00580 Helsinki",
        f"{day.day}.{day.month}.{day.year} klo 18.00\N{EN DASH}20.00",
        f"Ovikoodi: {code}",
        f"/api/v1/bookings/{request.booking.pk}/cancel/",
        f"{settings.PUBLIC_URL}/#booking-{request.booking.pk}",  # the page, not the API
    ):
        assert shown in text
        assert shown.removeprefix("Ovikoodi: ") in html_of(message)
    [attachment] = list(message.iter_attachments())
    assert attachment.get_content_type() == "text/calendar"
    event = Calendar.from_ical(attachment.get_content()).events[0]
    assert event.start == start
    assert code in str(event["description"])


def test_a_rejected_request_gives_the_reason_and_free_alternatives_in_english(celery_worker, smtp):
    person = UserFactory(email="erin@example.org", name="Erin", language="en")
    wanted = SpaceFactory(name="Music room A")
    other = SpaceFactory(name="Music room B", capacity=8)
    SpaceFactory(name="Too small room", capacity=2)
    start, end = tomorrow_at(18), tomorrow_at(20)
    BookingFactory(space=wanted, start=start, end=end)
    request = request_through_api(
        person, wanted, start, end, party_size=4, activity="band-rehearsal"
    )
    assert (request.status, request.reason) == ("rejected", "slot_taken")
    notification = Notification.objects.get(request=request, booking=None)
    [message] = sent(notification, smtp)
    text = text_of(message)
    day = start.date()
    assert subject(message).startswith("Booking request declined: Music room A")
    assert "Reason: Someone else booked the slot first." in text
    when = f"{start:%a} {day.day} {start:%b} {day.year}, 18:00\N{EN DASH}20:00"
    assert f"Music room B, {other.venue.name} ({other.venue.address}): {when}" in text
    # The same room at the nearest free times: just after, and just before.
    assert f"Music room A, {wanted.venue.name}" in text
    assert "20:00\N{EN DASH}22:00" in text
    assert "Too small room" not in text
    assert text.count("\n- ") == 3


def test_cancelling_twice_mails_the_cancellation_once_in_swedish(celery_worker, smtp):
    person = UserFactory(email="sven@example.org", name="Sven", language="sv")
    booking = BookingFactory(user=person, start=tomorrow_at(9), end=tomorrow_at(11))
    client = client_for(person)
    for _ in range(3):
        assert client.post(f"/api/v1/bookings/{booking.pk}/cancel/").status_code == 200
    [notification] = Notification.objects.filter(booking=booking)
    assert notification.kind == NotificationKind.BOOKING_CANCELLED
    [message] = sent(notification, smtp)
    assert subject(message).startswith("Bokningen är avbokad:")
    assert "kl. 09.00\N{EN DASH}11.00" in text_of(message)
    assert "Hej Sven," in text_of(message)


def test_reminders_go_once_each_and_never_for_a_booking_made_after_its_time(celery_worker, smtp):
    person = UserFactory(email="riikka@example.org", name="Riikka", language="fi")
    now = timezone.now().replace(second=0, microsecond=0)
    long_ago = now - timedelta(days=3)

    def booking(starts_in, made_at):
        made = BookingFactory(
            user=person, start=now + starts_in, end=now + starts_in + timedelta(hours=1)
        )
        Booking.objects.filter(pk=made.pk).update(created_at=made_at)
        return made

    day_ahead = booking(timedelta(hours=23, minutes=30), long_ago)
    soon = booking(timedelta(hours=1, minutes=30), long_ago)
    made_in_time = booking(timedelta(hours=1, minutes=30) + timedelta(days=1), long_ago)
    Booking.objects.filter(pk=made_in_time.pk).update(
        start=now + timedelta(minutes=100),
        end=now + timedelta(minutes=160),
        created_at=now - timedelta(hours=1),
    )
    made_too_late = booking(timedelta(hours=1, minutes=45), now - timedelta(minutes=5))
    cancelled = booking(timedelta(hours=1), long_ago)
    bookings.cancel_booking(cancelled)

    assert services.queue_reminders() == 3
    assert services.queue_reminders() == 0
    reminders = Notification.objects.filter(kind=NotificationKind.REMINDER)
    assert sorted(reminders.values_list("booking", "reminder_minutes")) == sorted(
        [(day_ahead.pk, 1440), (soon.pk, 120), (made_in_time.pk, 120)]
    )
    assert not reminders.filter(booking__in=[made_too_late, cancelled]).exists()
    day_message = sent(reminders.get(booking=day_ahead), smtp)[0]
    assert "varauksesi alkaa noin 24 tunnin kuluttua" in text_of(day_message)
    soon_message = sent(reminders.get(booking=soon), smtp)[0]
    assert "varauksesi alkaa noin 2 tunnin kuluttua" in text_of(soon_message)
    local_start = soon.start.astimezone(HELSINKI)
    assert f"klo {local_start:%H.%M}" in subject(soon_message)
    sent(reminders.get(booking=made_in_time), smtp)
    assert all(len(smtp.about(reminder)) == 1 for reminder in reminders)


def test_an_unconfirmed_code_warns_the_owner_and_the_operators_once(celery_worker, smtp, operator):
    person = UserFactory(email="anna@example.org", name="Anna", language="en")
    operator.language = "fi"
    operator.save()
    space = SpaceFactory(name="Hall 1")
    access.enrol_lock("hall-1", space)
    now = timezone.now().replace(second=0, microsecond=0)
    with transaction.atomic():
        booking = BookingFactory(
            user=person,
            space=space,
            start=now + timedelta(minutes=10),
            end=now + timedelta(hours=1),
        )
        access.create_grant(booking)
    code = Grant.objects.get(booking=booking).code

    assert services.queue_access_problems() == 1
    assert services.queue_access_problems() == 0
    services.notify_access_problem(booking)  # the access app's own signal, later
    to_owner = Notification.objects.get(booking=booking, recipient=person)
    to_operator = Notification.objects.get(booking=booking, recipient=operator)
    assert Notification.objects.filter(booking=booking).count() == 2

    [message] = sent(to_owner, smtp)
    assert subject(message).startswith("Your door code may not work: Hall 1")
    assert f"Door code: {code}" in text_of(message)
    assert "contact the venue's staff" in text_of(message)
    [warning] = sent(to_operator, smtp)
    assert warning["To"] == operator.email
    assert subject(warning).startswith("Lukko ei ole vahvistanut koodia: Hall 1")
    assert f"varauksen #{booking.pk}" in text_of(warning)
    assert code not in text_of(warning)
    assert "anna@example.org" in text_of(warning)


def test_a_reminder_for_a_booking_cancelled_before_it_went_is_skipped(celery_worker, smtp):
    booking = BookingFactory(start=timezone.now() + timedelta(hours=1))
    with transaction.atomic():
        services._record(
            NotificationKind.REMINDER, booking.user, reminder_minutes=120, booking=booking
        )
        Booking.objects.filter(pk=booking.pk).update(status="cancelled")
    reminder = Notification.objects.get(booking=booking, kind=NotificationKind.REMINDER)
    wait_for(
        lambda: Notification.objects.filter(
            pk=reminder.pk, state=NotificationState.SKIPPED
        ).exists(),
        message="the reminder to be skipped",
    )
    assert smtp.about(reminder) == []


def flexible_through_api(user, window_start, window_end, **extra):
    client = client_for(user)
    body = {
        "activity": "band-rehearsal",
        "party_size": 4,
        "window_start": window_start.isoformat(),
        "window_end": window_end.isoformat(),
        "duration_minutes": 120,
        **extra,
    }
    return decided(client.post("/api/v1/booking-requests/", body, format="json"))


def test_a_confirmed_flexible_request_mails_the_code_and_calendar_like_a_direct_one(
    celery_worker, smtp
):
    person = UserFactory(email="frida@example.org", name="Frida", language="sv")
    space = SpaceFactory(name="Musikrum 3")
    access.enrol_lock("kalasatama-music-3", space)
    request = flexible_through_api(person, tomorrow_at(18), tomorrow_at(21))
    assert (request.status, request.space, request.start) == ("confirmed", space, tomorrow_at(18))
    [message] = sent(Notification.objects.get(request=request), smtp)
    code = Grant.objects.get(booking=request.booking).code
    assert subject(message).startswith("Bokningen är bekräftad: Musikrum 3")
    assert f"Dörrkod: {code}" in text_of(message)
    [attachment] = list(message.iter_attachments())
    event = Calendar.from_ical(attachment.get_content()).events[0]
    assert (event.start, event.end) == (tomorrow_at(18), tomorrow_at(20))
    assert code in str(event["description"])


def test_a_flexible_request_nothing_fits_is_declined_with_the_nearest_free_times(
    celery_worker, smtp
):
    person = UserFactory(email="ed@example.org", name="Ed", language="en")
    space = SpaceFactory(name="Music room C")
    BookingFactory(space=space, start=tomorrow_at(17), end=tomorrow_at(21))
    request = flexible_through_api(person, tomorrow_at(18), tomorrow_at(20))
    assert (request.status, request.reason, request.space) == (
        "rejected",
        "no_space_available",
        None,
    )
    [message] = sent(Notification.objects.get(request=request), smtp)
    text = text_of(message).replace("\r\n", "\n")
    assert subject(message).startswith("Booking request declined: Band rehearsal")
    assert "Reason: No space matched your request." in text
    assert "Activity: Band rehearsal\nPeople: 4\nDuration: 120 min" in text
    # The free times nearest the window: just before and just after the booking that fills it.
    assert text.count("- Music room C") == 2
    assert "15:00\N{EN DASH}17:00" in text
    assert "21:00\N{EN DASH}23:00" in text


def test_a_boundary_that_flags_grants_warns_from_the_notifications_queue(
    monkeypatch, django_capture_on_commit_callbacks
):
    """The lock sweep only queues the warnings (in chunks): it is not held by the mail work."""
    from api.notifications import receivers

    queued = []
    monkeypatch.setattr(receivers, "ACCESS_PROBLEM_CHUNK", 2)
    monkeypatch.setattr(receivers, "enqueue", lambda name, ids: queued.append((name, ids)))
    start = timezone.now().replace(second=0, microsecond=0) + timedelta(minutes=30)
    bookings_ = []
    with transaction.atomic():
        for n in range(3):
            space = SpaceFactory()
            access.enrol_lock(f"unconfirmed-{n}", space)
            bookings_.append(
                BookingFactory(space=space, start=start, end=start + timedelta(hours=1))
            )
            access.create_grant(bookings_[-1])
    with time_machine.travel(start, tick=False), django_capture_on_commit_callbacks(execute=True):
        assert access.sweep()["started"] == 3
    assert not Notification.objects.exists()
    names = {name for name, _ in queued}
    ids = [grant_id for _, chunk in queued for grant_id in chunk]
    assert names == {"notifications.notify_access_problems"} and [len(c) for _, c in queued] == [
        2,
        1,
    ]
    assert sorted(ids) == sorted(str(b.grant.id) for b in bookings_)
    services.notify_access_problems(ids)
    assert {n.booking_id for n in Notification.objects.filter(kind="access_problem")} == {
        b.pk for b in bookings_
    }
