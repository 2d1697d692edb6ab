"""POST/GET /api/v1/locks/, POST /locks/{id}/unlock/, GET /api/v1/alerts/."""

import base64
from datetime import timedelta

import pytest
from cryptography.hazmat.primitives import serialization
from django.contrib.auth.hashers import check_password
from django.utils import timezone

from api.access import services
from api.access.choices import CommandState
from api.access.models import Grant, Lock, LockCommand
from devices import protocol
from tests.access.conftest import enrol, new_lock_id
from tests.factories import BookingFactory, SpaceFactory

pytestmark = pytest.mark.django_db


def test_an_operator_enrols_a_lock_and_gets_its_credentials_once(as_operator, settings):
    space = SpaceFactory()
    lock_id = new_lock_id()
    response = as_operator.post("/api/v1/locks/", {"id": lock_id, "space": space.id}, format="json")
    assert response.status_code == 201
    body = response.json()
    assert set(body) == {
        "id", "space", "mqtt_username", "mqtt_password", "topic_root", "kid", "public_key",
        "public_key_pem",
    }  # fmt: skip
    assert (body["id"], body["space"], body["mqtt_username"]) == (lock_id, space.id, lock_id)
    assert body["topic_root"] == settings.MQTT_TOPIC_ROOT
    assert body["kid"] == settings.LOCK_SIGNING_KID
    # The public key is the raw 32 bytes, and it verifies what the backend signs.
    public = protocol.load_public_key(body["public_key"])
    assert protocol.verify(services.sign({"a": 1}), public, body["kid"])
    # The same key as PEM, for libraries that want it.
    pem = serialization.load_pem_public_key(body["public_key_pem"].encode())
    assert pem.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw) == (
        base64.b64decode(body["public_key"])
    )
    lock = Lock.objects.get(id=lock_id)
    assert body["mqtt_password"] not in lock.password_hash
    assert check_password(body["mqtt_password"], lock.password_hash)
    detail = as_operator.get(f"/api/v1/locks/{lock_id}/").json()
    assert "mqtt_password" not in detail


def test_enrolment_refuses_a_bad_id_a_taken_id_and_a_space_with_a_lock(as_operator):
    lock = enrol()
    for body, field in [
        ({"id": "has space", "space": SpaceFactory().id}, "id"),
        ({"id": "x" * 65, "space": SpaceFactory().id}, "id"),
        ({"id": lock.id, "space": SpaceFactory().id}, "id"),
        ({"id": new_lock_id(), "space": lock.space_id}, "space"),
        ({"id": new_lock_id(), "space": 999999}, "space"),
    ]:
        response = as_operator.post("/api/v1/locks/", body, format="json")
        assert response.status_code == 400, body
        assert field in response.json()
    assert Lock.objects.count() == 1


def test_enrolling_gives_the_spaces_coming_bookings_their_grants(as_operator):
    booking = BookingFactory()
    response = as_operator.post(
        "/api/v1/locks/", {"id": new_lock_id(), "space": booking.space_id}, format="json"
    )
    assert response.status_code == 201
    assert Grant.objects.get(booking=booking).lock_id == response.json()["id"]


def test_locks_are_for_operators_only(anonymous, as_owner):
    lock = enrol()
    assert anonymous.get("/api/v1/locks/").status_code == 401
    assert as_owner.get("/api/v1/locks/").status_code == 403
    assert as_owner.get(f"/api/v1/locks/{lock.id}/").status_code == 403
    assert as_owner.post(f"/api/v1/locks/{lock.id}/unlock/").status_code == 403
    body = {"id": new_lock_id(), "space": SpaceFactory().id}
    assert as_owner.post("/api/v1/locks/", body, format="json").status_code == 403
    assert as_owner.get("/api/v1/alerts/").status_code == 403


def test_a_lock_shows_presence_and_versions(as_operator):
    lock = enrol()
    Lock.objects.filter(pk=lock.pk).update(
        online=True, last_seen=timezone.now(), desired_version=12, applied_version=11
    )
    body = as_operator.get(f"/api/v1/locks/{lock.id}/").json()
    assert set(body) == {
        "id", "space", "online", "last_seen", "desired_version", "applied_version", "in_sync",
    }  # fmt: skip
    assert (body["online"], body["desired_version"], body["applied_version"], body["in_sync"]) == (
        True, 12, 11, False,
    )  # fmt: skip
    assert body["last_seen"].endswith("Z")
    listed = as_operator.get("/api/v1/locks/").json()
    assert listed["count"] == 1 and listed["results"][0] == body


def test_a_lock_silent_for_three_keepalives_shows_offline(as_operator, settings):
    lock = enrol()
    silent = timezone.now() - timedelta(seconds=3 * settings.LOCK_KEEPALIVE_SECONDS + 1)
    Lock.objects.filter(pk=lock.pk).update(online=True, last_seen=silent)
    assert as_operator.get(f"/api/v1/locks/{lock.id}/").json()["online"] is False


def test_unlock_queues_a_command_and_answers_202(as_operator):
    lock = enrol()
    response = as_operator.post(f"/api/v1/locks/{lock.id}/unlock/")
    assert response.status_code == 202
    body = response.json()
    command = LockCommand.objects.get(cmd_id=body["cmd_id"])
    assert (command.op, command.state, body["state"]) == ("unlock_once", "queued", "queued")
    assert timedelta(seconds=55) <= command.expires_at - command.issued_at <= timedelta(seconds=65)
    listed = as_operator.get(f"/api/v1/locks/{lock.id}/commands/").json()
    assert listed["results"][0]["cmd_id"] == body["cmd_id"]
    assert as_operator.post("/api/v1/locks/no-such-lock/unlock/").status_code == 404


def test_an_ack_is_recorded_on_its_command():
    lock = enrol()
    command = services.unlock_once(lock)
    ack = {"schema": 1, "lock_id": lock.id, "cmd_id": command.cmd_id, "ok": True, "error": None}
    services.record_ack("someone-else", ack, timezone.now())
    command.refresh_from_db()
    assert command.acked_at is None
    services.record_ack(lock.id, ack, timezone.now())
    command.refresh_from_db()
    assert (command.state, command.ok) == (CommandState.ACKED, True)


def test_alerts_list_offline_locks_unconfirmed_grants_and_revocations(as_operator):
    offline = enrol()
    soon = BookingFactory(space=offline.space, start=timezone.now() + timedelta(hours=2))
    services.create_grant(soon)
    late = enrol()
    Lock.objects.filter(pk=late.pk).update(online=True, last_seen=timezone.now())
    started = BookingFactory(space=late.space, start=timezone.now() - timedelta(minutes=10))
    services.create_grant(started)
    ended_lock = enrol()
    ended = BookingFactory(space=ended_lock.space, start=timezone.now() - timedelta(hours=3))
    Lock.objects.filter(pk=ended_lock.pk).update(online=True, last_seen=timezone.now())
    grant = services.create_grant(ended)
    Grant.objects.filter(pk=grant.pk).update(
        state="active", withdrawn_at=grant.valid_until, revoke_version=1
    )
    body = as_operator.get("/api/v1/alerts/").json()
    kinds = {(alert["kind"], alert["lock"]) for alert in body["results"]}
    assert ("lock_offline", offline.id) in kinds
    assert ("grant_unconfirmed", late.id) in kinds
    assert ("revocation_unconfirmed", ended_lock.id) in kinds
    assert ("lock_offline", late.id) not in kinds
