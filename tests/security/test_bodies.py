"""Bodies an attacker sends to every endpoint that reads JSON: nested deeper than any request
needs, larger than the limit, or chunked to hide their length. Each is a 4xx, and nothing is
stored."""

import http.client
import json
import select
import socket

import pytest

from api.accounts.models import User
from tests.conftest import client_for
from tests.security.conftest import BEHIND_TLS
from tests.security.schema import json_operations
from tests.security.world import build_world, fill, row_counts

LIMIT = 64 * 1024
DEEP_LISTS = "[" * 30_000 + "]" * 30_000  # 60 KB: under the limit
DEEP_OBJECTS = '{"a":' * 10_000 + "1" + "}" * 10_000
# Under Python's recursion limit, in the fields of the API's bodies: parsed, then printed or
# walked by a field, unless refused first.
_NESTED = "[" * 900 + "1" + "]" * 900
DEEP_IN_FIELDS = f'{{"name": {_NESTED}, "events": {_NESTED}, "space": {_NESTED}}}'


def test_every_json_endpoint_of_the_contract_is_covered():
    found = set(json_operations())
    assert {
        ("POST", "/api/v1/auth/register/"),
        ("POST", "/api/v1/booking-requests/"),
        ("PATCH", "/api/v1/spaces/{id}/"),
        ("POST", "/api/v1/webhooks/"),
    } <= found


@pytest.mark.django_db
@pytest.mark.parametrize(
    "body", [DEEP_LISTS, DEEP_OBJECTS, DEEP_IN_FIELDS], ids=["lists", "objects", "in-fields"]
)
@pytest.mark.parametrize(("method", "path"), json_operations())
def test_deeply_nested_json_is_a_400(method, path, body):
    world = build_world()
    before = row_counts()
    response = client_for(world.operator).generic(
        method, fill(path, world), body, "application/json"
    )
    assert response.status_code == 400, response.content[:300]
    assert "detail" in response.json()
    assert row_counts() == before


@pytest.mark.django_db
@pytest.mark.parametrize(("method", "path"), json_operations())
def test_a_body_over_the_limit_is_a_413(method, path):
    world = build_world()
    before = row_counts()
    body = json.dumps({"name": "x" * LIMIT})
    response = client_for(world.operator).generic(
        method, fill(path, world), body, "application/json"
    )
    assert response.status_code == 413
    assert row_counts() == before


def send_chunked(server, method: str, path: str, token: str, total: int) -> tuple[int, int]:
    """Send a chunked body of `total` bytes, a chunk at a time, until an answer comes; the
    status and how many bytes had been sent by then."""
    chunk = b"x" * 16 * 1024
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as connection:
        connection.sendall(
            f"{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            f"Authorization: Token {token}\r\nX-Forwarded-Proto: https\r\n"
            "Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n".encode()
        )
        sent = 0
        while sent < total and not select.select([connection], [], [], 0.05)[0]:
            connection.sendall(f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n")
            sent += len(chunk)
        status_line = connection.makefile("rb").readline()
    return int(status_line.split()[1]), sent


def test_a_chunked_body_over_the_limit_is_a_413_before_the_rest_is_sent(
    api_server, transactional_db
):
    world = build_world()
    before = row_counts()
    for method, path in json_operations():
        status, sent = send_chunked(
            api_server, method, fill(path, world), world.operator.auth_token.key, 10 * 2**20
        )
        assert (method, path, status) == (method, path, 413)
        assert sent < 2**20, f"{method} {path}: {sent} bytes went out before the answer"
    assert row_counts() == before


def test_a_chunked_body_under_the_limit_is_read_as_usual(api_server, transactional_db):
    body = json.dumps({"email": "chunk@example.org", "password": "a long passphrase", "name": "C"})
    connection = http.client.HTTPConnection("127.0.0.1", api_server.port, timeout=10)
    try:
        connection.request(
            "POST",
            "/api/v1/auth/register/",
            iter([body[:20].encode(), body[20:].encode()]),
            {"Content-Type": "application/json", **BEHIND_TLS},
            encode_chunked=True,
        )
        response = connection.getresponse()
        assert response.status == 201, response.read()
    finally:
        connection.close()
    assert User.objects.filter(email="chunk@example.org").exists()
