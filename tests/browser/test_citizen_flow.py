"""The citizen's page in a real browser against the real stack: register, find a band
rehearsal for six on Thursday evening, book it, see it confirmed with its door code, which the
simulated lock accepts in the booking's window; cancel, and the code is refused."""

from datetime import date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.db import transaction

from api.access import services
from api.access.choices import GrantState
from api.access.models import Grant, Lock
from api.bookings.models import Booking
from tests.access.conftest import enrol, join
from tests.access.test_on_the_broker import book, grant_state, in_sync, skew_to
from tests.browser.conftest import accessibility_violations, new_page, ready, screenshot
from tests.conftest import wait_for
from tests.factories import (
    ActivityFactory,
    SpaceFactory,
    UserFactory,
    VenueFactory,
    next_slot,
)

pytestmark = pytest.mark.django_db(transaction=True)

HELSINKI = ZoneInfo("Europe/Helsinki")

# What reaches a lock passes the worker, the broker and the gateway, on a machine that may be
# running other suites: a generous wait, never a timing assertion.
LOCK_WAIT = 60


def next_thursday() -> date:
    today = datetime.now(HELSINKI).date()
    return today + timedelta(days=(3 - today.weekday() - 1) % 7 + 1)


@pytest.fixture
def city(fleet, gateway):
    """A library's music room with a lock on the real broker, and a hall that also fits a
    band (larger, so ranked after the music room); both open around the clock."""
    band = ActivityFactory()
    library = VenueFactory(name="Kallio library", district="Kallio")
    music_room = SpaceFactory(
        venue=library,
        name="Music room",
        capacity=8,
        equipment=["drums", "piano", "amplifiers"],
        activities=[band],
    )
    hall = VenueFactory(name="Vallila hall", district="Vallila")
    SpaceFactory(venue=hall, name="Hall", capacity=40, equipment=[], activities=[band])
    lock = enrol(music_room)
    join(fleet, lock)
    wait_for(
        lambda: Lock.objects.get(pk=lock.pk).online, timeout=LOCK_WAIT, message="the lock online"
    )
    return music_room, lock


def sweep_as_at(lock, instant):
    """Beat's lock sweep and the publication it asks for, as at `instant`: in one transaction,
    so that the worker's task for it, queued at the commit, finds it done."""
    with time_machine.travel(instant, tick=False), transaction.atomic():
        services.sweep()
        services.publish_desired_state([lock.id])


def search_for_a_band(page, thursday: date):
    page.select_option("#activity", "band-rehearsal")
    page.fill("#party-size", "6")
    page.fill("#day", thursday.isoformat())
    page.fill("#from-time", "17:00")
    page.fill("#to-time", "22:00")
    page.select_option("#duration", "120")
    page.click("#search-form button[type=submit]")
    page.wait_for_selector("#offers li")


def register(page, name: str, email: str):
    page.fill("#register-name", name)
    page.fill("#register-email", email)
    page.fill("#register-password", "a long enough passphrase")
    page.click("#register-form button[type=submit]")
    page.wait_for_selector("#account-bar:not([hidden])")
    ready(page)


# In English the band books the first slot offered; in Swedish it asks for any suitable space
# (a flexible request), which the worker decides the same way.
@pytest.mark.parametrize(
    ("locale", "texts", "choose"),
    [
        (
            "en-GB",
            {"title": "Find a free space", "confirmed": "Confirmed."},
            lambda page: page.locator("#offers li").first.get_by_role("button", name="Book"),
        ),
        (
            "sv-SE",
            {"title": "Hitta en ledig lokal", "confirmed": "Bekräftad."},
            lambda page: page.get_by_role("button", name="Boka vilken lämplig lokal som helst"),
        ),
    ],
)
def test_a_band_books_a_music_room_and_gets_in_with_its_code(
    browser, site, city, fleet, locale, texts, choose
):
    music_room, lock = city
    language = locale[:2]
    page = new_page(browser, site, locale)
    page.goto("/")
    ready(page)
    assert texts["title"] in page.inner_text("h1")

    register(page, f"Band {language}", f"band-{language}@example.org")
    thursday = next_thursday()
    search_for_a_band(page, thursday)
    offers = page.locator("#offers li")
    first = offers.first.inner_text()
    # Best first: the music room (the smallest that fits), at 17:00 on Thursday, with its kit.
    assert "Music room" in first and "Kallio library" in first and "drums" in first
    assert "17:00" in first and "19:00" in first
    assert "Hall" in offers.nth(offers.count() - 1).inner_text()
    assert accessibility_violations(page) == []
    screenshot(page, f"citizen-search-results-{language}")

    choose(page).click()
    page.wait_for_selector("#request-status .confirmed")
    assert page.inner_text("#request-status .confirmed") == texts["confirmed"]
    code = page.get_attribute("#request-status [data-code]", "data-code")
    booking = Booking.objects.get(user__email=f"band-{language}@example.org")
    assert booking.space == music_room
    assert booking.start == datetime.combine(thursday, datetime.min.time(), HELSINKI).replace(
        hour=17
    )
    assert code == booking.grant.code
    assert accessibility_violations(page) == []
    # Its calendar file, fetched with the person's token and handed to the browser.
    with page.expect_download() as download:
        page.locator("#request-status .actions button").first.click()
    calendar = Path(download.value.path()).read_text().replace("\n ", "")  # unfolded
    assert "BEGIN:VEVENT" in calendar and code in calendar

    # A day before the slot beat's sweep puts the code on the lock: here the sweep and the
    # publication it asks for, as at that time (the worker's clock says today).
    sweep_as_at(lock, booking.start - timedelta(hours=23))
    wait_for(
        grant_state(booking.grant, GrantState.PROVISIONED),
        timeout=LOCK_WAIT,
        message="the code on the lock",
    )
    wait_for(in_sync(lock), timeout=LOCK_WAIT, message="the lock in sync")
    page.reload()
    ready(page)
    page.wait_for_selector("#booking-list [data-code]")
    screenshot(page, f"citizen-confirmed-booking-{language}")

    # The visitor types the code in the booking's window, by the lock's clock.
    skew_to(fleet, lock.id, booking.start + timedelta(minutes=1))
    assert fleet.try_code(lock.id, code)["result"] == "granted"

    page.locator("#booking-list li").first.locator("button.danger").click()
    page.wait_for_selector(".message.notice")
    wait_for(
        grant_state(booking.grant, GrantState.REVOKED),
        timeout=LOCK_WAIT,
        message="the code withdrawn",
    )
    wait_for(in_sync(lock), timeout=LOCK_WAIT, message="the lock in sync again")
    assert fleet.try_code(lock.id, code)["result"] == "denied"
    assert Grant.objects.get(pk=booking.grant.pk).state == GrantState.REVOKED


def test_the_operator_page_shows_the_lock_online_and_in_sync(browser, site, city, fleet):
    music_room, lock = city
    booking = book(music_room, UserFactory(), start=next_slot(hours_ahead=2)[0])
    wait_for(
        grant_state(booking.grant, GrantState.PROVISIONED),
        timeout=LOCK_WAIT,
        message="the code on the lock",
    )
    wait_for(in_sync(lock), timeout=LOCK_WAIT, message="the lock in sync")
    UserFactory(email="otto@example.org", is_staff=True)
    page = new_page(browser, site, "en-GB")
    page.goto("/operator/")
    ready(page)
    page.fill("#login-email", "otto@example.org")
    page.fill("#login-password", "correct horse battery")
    page.click("#login-form button[type=submit]")
    row = page.locator(f'tr[data-lock="{lock.id}"]')
    row.wait_for()
    assert "online, in sync" in row.inner_text()
    venue = page.locator("#venues section").first
    assert "Kallio library" in venue.inner_text()
    assert "Music room · Door code: on the lock · not checked in" in venue.inner_text()
    assert accessibility_violations(page) == []
    screenshot(page, "operator-page")

    row.get_by_role("button", name="Unlock once").click()
    page.wait_for_selector(".message.notice")
    virtual = fleet.lock(lock.id)
    wait_for(
        lambda: fleet.call(lambda: list(virtual.executed)),
        timeout=LOCK_WAIT,
        message="unlock_once executed",
    )


def test_the_page_works_on_a_phone_and_from_the_keyboard(browser, site, city):
    page = new_page(browser, site, "fi-FI", viewport=(360, 740))
    page.goto("/")
    ready(page)
    assert "Löydä vapaa tila" in page.inner_text("h1")
    # One column: nothing wider than the screen.
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    # The first Tab reaches the skip link, which moves the focus to the content.
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.className") == "skip"
    page.keyboard.press("Enter")
    assert page.evaluate("document.activeElement.id") == "main"
    # A search from the keyboard alone: Enter in the form's fields submits it.
    page.focus("#party-size")
    page.keyboard.press("Control+a")
    page.keyboard.type("6")
    page.keyboard.press("Enter")
    page.wait_for_selector("#offers li")
    assert accessibility_violations(page) == []
