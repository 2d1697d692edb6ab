"""Rate limits on logging in (per account and per client address, for the API and the admin),
on registering and on booking requests: a 429 with Retry-After beyond them, and the same count
whichever API process a request reaches.

The limits count in fixed windows of their period, so the tests use a day's: a window that
ended during a test would start its count again.
"""

from concurrent.futures import ThreadPoolExecutor

import pytest
from rest_framework.test import APIClient

from api.accounts.models import User
from api.bookings.models import BookingRequest
from tests.conftest import client_for, stop_process
from tests.factories import UserFactory
from tests.security.conftest import start_api
from tests.security.world import PASSWORD, build_world

TOKEN = "/api/v1/auth/token/"
REGISTER = "/api/v1/auth/register/"


def from_address(address: str) -> APIClient:
    return APIClient(REMOTE_ADDR=address)


def log_in(client, email: str, password: str = "wrong password") -> int:
    return client.post(TOKEN, {"email": email, "password": password}, format="json").status_code


@pytest.mark.django_db
def test_logging_in_to_one_account_is_limited_even_with_the_right_password(settings):
    settings.LOGIN_RATE = "3/day"
    user = UserFactory()
    client = from_address("203.0.113.1")
    assert [log_in(client, user.email) for _ in range(3)] == [400, 400, 400]
    response = client.post(TOKEN, {"email": user.email, "password": PASSWORD}, format="json")
    assert response.status_code == 429
    assert 0 < int(response["Retry-After"]) <= 24 * 3600
    # The limit is the account's: the same address may still log in to another.
    assert log_in(client, UserFactory().email, PASSWORD) == 200
    # And the account's whatever the address and however the email is spelt.
    assert log_in(from_address("198.51.100.7"), user.email.upper(), PASSWORD) == 429


@pytest.mark.django_db
def test_logging_in_from_one_address_is_limited_across_accounts(settings):
    settings.LOGIN_ADDRESS_RATE = "4/day"
    client = from_address("203.0.113.2")
    statuses = [log_in(client, f"guess{n}@example.org") for n in range(5)]
    assert statuses == [400, 400, 400, 400, 429]
    assert log_in(from_address("203.0.113.3"), "guess0@example.org") == 400


@pytest.mark.django_db
def test_registering_from_one_address_is_limited(settings):
    settings.REGISTRATION_RATE = "2/day"
    client = from_address("203.0.113.4")
    statuses = [
        client.post(
            REGISTER,
            {"email": f"new{n}@example.org", "password": "a long passphrase", "name": "N"},
            format="json",
        ).status_code
        for n in range(3)
    ]
    assert statuses == [201, 201, 429]
    assert User.objects.count() == 2


@pytest.mark.django_db
def test_the_admin_login_is_limited_like_the_apis(settings, client):
    settings.LOGIN_RATE = "3/day"
    operator = UserFactory(is_staff=True)

    def admin_log_in(password):
        return client.post(
            "/admin/login/?next=/admin/",
            {"username": operator.email, "password": password},
            REMOTE_ADDR="203.0.113.5",
        )

    assert [admin_log_in("wrong").status_code for _ in range(3)] == [200, 200, 200]
    refused = admin_log_in(PASSWORD)
    assert refused.status_code == 429
    assert int(refused["Retry-After"]) > 0
    assert "_auth_user_id" not in client.session


@pytest.mark.django_db
def test_booking_requests_are_limited_per_person(settings):
    settings.BOOKING_REQUEST_RATE = "2/day"
    world = build_world()
    client = client_for(world.owner)
    statuses = [
        client.post("/api/v1/booking-requests/", world.booking_request_body(party_size=n), format="json")
        for n in (2, 3, 4)
    ]  # fmt: skip
    assert [response.status_code for response in statuses] == [202, 202, 429]
    assert int(statuses[-1]["Retry-After"]) > 0
    # (The world's series has an occurrence pending of its own.)
    made = BookingRequest.objects.filter(user=world.owner, status="pending", series=None)
    assert made.count() == 2
    assert (
        client_for(world.other)
        .post("/api/v1/booking-requests/", world.booking_request_body(), format="json")
        .status_code
        == 202
    )


@pytest.mark.django_db(transaction=True)
def test_the_login_limit_holds_across_api_processes_and_parallel_requests():
    user = UserFactory()
    servers = [start_api(f"api-{n}", LOGIN_RATE="5/day") for n in (1, 2)]
    try:
        body = f'{{"email": "{user.email}", "password": "wrong password"}}'

        def attempt(n):
            server = servers[n % 2]
            headers = {"Content-Type": "application/json"}
            return server.request("POST", TOKEN, body, headers)[0]

        with ThreadPoolExecutor(max_workers=8) as pool:
            statuses = list(pool.map(attempt, range(24)))
        assert sorted(statuses) == [400] * 5 + [429] * 19
        # The count is the account's, kept in Redis: the other process refuses it too.
        assert [attempt(n) for n in (0, 1)] == [429, 429]
    finally:
        for server in servers:
            stop_process(server.process)
