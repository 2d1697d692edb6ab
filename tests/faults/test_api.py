"""The API (the Procfile's gunicorn) killed with SIGKILL mid-request, its clients retrying with
the same Idempotency-Key until they get an answer. At the kill some requests are committed but
not yet queued (the API is waiting on a Redis that stalls) and others not yet committed; each
key still ends as exactly one request, decided once, with one email."""

import http.client
import json
import threading
import time
import uuid
from datetime import timedelta

import pytest

from api.bookings.models import BookingRequest
from tests.conftest import wait_for
from tests.factories import SpaceFactory, UserFactory, next_slot
from tests.faults.conftest import (
    Clock,
    RedisServer,
    account_for_requests,
    decided,
    kill,
    mailed,
    nothing_lost_or_duplicated,
)

pytestmark = pytest.mark.django_db(transaction=True)

PEOPLE, EACH = 6, 4


class Client(threading.Thread):
    """One person's app: each request sent until it gets an answer, always with its key."""

    def __init__(self, port: int, token: str, bodies: list[dict]):
        super().__init__(daemon=True)
        self.port, self.token, self.bodies = port, token, bodies
        self.keys = [str(uuid.uuid4()) for _ in bodies]
        self.answers: dict[str, dict] = {}
        self.broken = 0  # requests whose connection died without an answer

    def run(self):
        for key, body in zip(self.keys, self.bodies, strict=True):
            while key not in self.answers:
                try:
                    status, answer = self.post(key, body)
                except OSError:
                    self.broken += 1
                    time.sleep(0.2)
                    continue
                if status == 202:
                    self.answers[key] = answer
                else:
                    time.sleep(0.5)  # a 5xx or a 429: the same again later

    def post(self, key: str, body: dict):
        link = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
        try:
            link.request(
                "POST",
                "/api/v1/booking-requests/",
                json.dumps(body),
                {
                    "Authorization": f"Token {self.token}",
                    "Content-Type": "application/json",
                    "Idempotency-Key": key,
                },
            )
            response = link.getresponse()
            answer = response.read()
            return response.status, json.loads(answer) if response.status == 202 else None
        finally:
            link.close()


def bodies_for(person: int, rooms, first) -> list[dict]:
    """Each hour two people ask for each room, as in contended_requests()."""
    bodies = []
    for hour in range(EACH):
        start = first + timedelta(hours=hour)
        bodies.append(
            {
                "space": rooms[(person + hour) % len(rooms)].pk,
                "start": start.isoformat(),
                "end": (start + timedelta(hours=1)).isoformat(),
                "party_size": 4,
            }
        )
    return bodies


def test_the_api_killed_mid_request_with_clients_retrying_by_key(stack, smtp, servers):
    sink, port = smtp()
    redis = servers(RedisServer)
    faults = stack("api", redis_url=redis.url, EMAIL_HOST="127.0.0.1", EMAIL_PORT=str(port))
    rooms = [SpaceFactory() for _ in range(3)]
    first, _ = next_slot()
    people = [UserFactory() for _ in range(PEOPLE)]
    faults.start_many("worker", "beat")
    api = faults.start_api()
    clients = [
        Client(api.port, person.auth_token.key, bodies_for(n, rooms, first))
        for n, person in enumerate(people)
    ]
    for client in clients:
        client.start()
    wait_for(lambda: sum(len(c.answers) for c in clients) >= PEOPLE, message="first answers")
    # Redis stalls: requests that committed wait to be queued, others wait at the rate limit.
    redis.pause()
    keys = {key for client in clients for key in client.keys}

    def committed_unanswered():
        answered = {key for client in clients for key in client.answers}
        saved = set(
            BookingRequest.objects.filter(idempotency_key__in=keys).values_list(
                "idempotency_key", flat=True
            )
        )
        return saved - answered

    wait_for(committed_unanswered, message="a request saved and not yet queued")
    time.sleep(0.5)  # the others reach Redis too
    saved_unqueued = len(committed_unanswered())
    in_flight = sum(len(c.answers) < len(c.keys) for c in clients)  # one each at most
    kill(api.process)
    clock = Clock()
    redis.resume()
    api = faults.start_api(api.port)
    back = clock.since()
    for client in clients:
        client.join(120)
    all_answered = clock.since()
    request_ids = list(
        BookingRequest.objects.filter(idempotency_key__in=keys).values_list("id", flat=True)
    )
    wait_for(lambda: decided(request_ids) and mailed(request_ids, sink), timeout=60)
    outcome = account_for_requests(request_ids, sink)
    # A retry that made a second request would show as more requests than keys.
    outcome["duplicated"] += len(request_ids) - len(keys)
    outcome["lost"] += len(keys) - len({c.answers[k]["id"] for c in clients for k in c.answers})
    nothing_lost_or_duplicated(
        "API SIGKILL mid-request, clients retrying by Idempotency-Key",
        {"requests": outcome},
        in_flight=f"{in_flight} requests ({saved_unqueued} of them saved, not yet queued)",
        broken_connections=sum(c.broken for c in clients),
        api_back_after_s=back,
        every_client_answered_after_s=all_answered,
        decided_and_mailed_after_s=clock.since(),
    )
    assert len(request_ids) == len(keys) == PEOPLE * EACH
