"""Grants in the database: codes and windows, who sees them, and what reports do to them."""

from datetime import timedelta

import pytest
import time_machine
from django.utils import timezone

from api.access import services
from api.access.choices import GrantProblem, GrantState
from api.access.models import Grant, Lock, LockEvent
from api.bookings import services as bookings
from devices import protocol
from tests.access.conftest import enrol
from tests.conftest import client_for
from tests.factories import BookingFactory, BookingRequestFactory, SpaceFactory, next_slot

pytestmark = pytest.mark.django_db


def book(space, user, start=None, minutes=60):
    start = start or next_slot()[0]
    request = BookingRequestFactory(
        space=space, user=user, start=start, end=start + timedelta(minutes=minutes)
    )
    bookings.allocate(request.id)
    request.refresh_from_db()
    return request.booking


def reported(lock, version, grant_ids):
    """A report of `version`, which the backend is made to have published."""
    Lock.objects.filter(pk=lock.pk, desired_version__lt=version).update(desired_version=version)
    return {"schema": 1, "lock_id": lock.id, "applied_version": version, "grant_ids": grant_ids}


def test_a_booking_on_a_locked_space_gets_a_grant_with_the_graced_window(owner):
    space = SpaceFactory(access_grace_before_minutes=10, access_grace_after_minutes=15)
    lock = enrol(space)
    booking = book(space, owner)
    grant = booking.grant
    assert grant.lock == lock
    assert grant.valid_from == booking.start - timedelta(minutes=10)
    assert grant.valid_until == booking.end + timedelta(minutes=15)
    assert grant.code.isdigit() and len(grant.code) == 6
    assert grant.state == GrantState.PENDING
    # Inside the provisioning lead time: asked onto the lock at once.
    assert grant.queued_at is not None
    assert Lock.objects.get(pk=lock.pk).publish_requested_at is not None


def test_a_booking_beyond_the_lead_time_waits_for_the_sweep(owner, settings):
    space = SpaceFactory()
    lock = enrol(space)
    start = next_slot(hours_ahead=48)[0]
    grant = book(space, owner, start=start).grant
    assert grant.queued_at is None
    Lock.objects.filter(pk=lock.pk).update(publish_requested_at=None)
    due = grant.valid_from - settings.LOCK_PROVISION_LEAD
    with time_machine.travel(due - timedelta(minutes=1), tick=False):
        services.sweep()
    grant.refresh_from_db()
    assert grant.queued_at is None
    with time_machine.travel(due, tick=False):
        services.sweep()
    grant.refresh_from_db()
    assert grant.queued_at is not None
    assert Lock.objects.get(pk=lock.pk).publish_requested_at is not None


def test_a_space_without_a_lock_gives_no_grant_and_null_access(owner):
    booking = book(SpaceFactory(), owner)
    assert not Grant.objects.filter(booking=booking).exists()
    body = client_for(owner).get(f"/api/v1/bookings/{booking.id}/").json()
    assert body["access"] is None


def test_the_code_is_shown_to_the_owner_and_operators(owner, operator):
    space = SpaceFactory()
    enrol(space)
    booking = book(space, owner)
    for person in (owner, operator):
        access = client_for(person).get(f"/api/v1/bookings/{booking.id}/").json()["access"]
        assert access["code"] == booking.grant.code
        assert access["state"] == "pending"
        assert access["valid_from"].endswith("Z")


def test_codes_differ_among_overlapping_grants_on_one_lock(owner, settings):
    settings.LOCK_CODE_DIGITS = 4
    space = SpaceFactory(capacity=50)
    lock = enrol(space)
    start = next_slot()[0]
    # Windows overlap through the grace times though the slots only touch.
    grants = [book(space, owner, start=start + timedelta(hours=i)).grant for i in range(3)]
    codes = [g.code for g in grants]
    assert len(set(codes)) == 3
    assert Grant.objects.filter(lock=lock).count() == 3


def test_cancelling_withdraws_the_grant_and_asks_for_a_publication(owner):
    space = SpaceFactory()
    lock = enrol(space)
    booking = book(space, owner)
    Lock.objects.filter(pk=lock.pk).update(publish_requested_at=None, desired_version=7)
    bookings.cancel_booking(booking)
    grant = Grant.objects.get(booking=booking)
    assert grant.withdrawn_at is not None
    assert grant.revoke_version == 7
    assert Lock.objects.get(pk=lock.pk).publish_requested_at is not None
    bookings.cancel_booking(booking)  # again: nothing changes
    assert Grant.objects.get(booking=booking).withdrawn_at == grant.withdrawn_at


def test_cancelling_a_grant_never_sent_revokes_it_at_once(owner):
    space = SpaceFactory()
    enrol(space)
    booking = book(space, owner, start=next_slot(hours_ahead=48)[0])
    bookings.cancel_booking(booking)
    assert Grant.objects.get(booking=booking).state == GrantState.REVOKED


def test_reports_provision_and_revoke_and_a_stale_report_changes_nothing(owner):
    space = SpaceFactory()
    lock = enrol(space)
    grant = book(space, owner).grant
    now = timezone.now()
    assert services.record_reported(lock.id, reported(lock, 10, [grant.id]), now)
    grant.refresh_from_db()
    assert grant.state == GrantState.PROVISIONED
    Lock.objects.filter(pk=lock.pk).update(desired_version=10)
    bookings.cancel_booking(grant.booking)
    # The lock still reports version 10 (published before the cancel) without it: not enough.
    services.record_reported(lock.id, reported(lock, 10, []), now)
    grant.refresh_from_db()
    assert grant.state == GrantState.PROVISIONED
    services.record_reported(lock.id, reported(lock, 11, []), now)
    grant.refresh_from_db()
    assert grant.state == GrantState.REVOKED
    # A replayed older report is ignored.
    assert not services.record_reported(lock.id, reported(lock, 10, [grant.id]), now)
    assert Lock.objects.get(pk=lock.pk).applied_version == 11


def test_the_start_sweep_activates_confirmed_grants_and_flags_the_others(owner):
    space = SpaceFactory(capacity=50)
    lock = enrol(space)
    start = next_slot()[0]
    confirmed = book(space, owner, start=start).grant
    other_lock_space = SpaceFactory()
    enrol(other_lock_space)
    unconfirmed = book(other_lock_space, owner, start=start).grant
    services.record_reported(lock.id, reported(lock, 1, [confirmed.id]), timezone.now())
    with time_machine.travel(start, tick=False):
        assert services.sweep()["started"] == 2
    confirmed.refresh_from_db()
    unconfirmed.refresh_from_db()
    assert confirmed.state == GrantState.ACTIVE
    assert (unconfirmed.state, unconfirmed.problem) == (
        GrantState.PENDING,
        GrantProblem.UNCONFIRMED_AT_START,
    )
    assert unconfirmed.flagged_at == start
    with time_machine.travel(start, tick=False):
        assert services.sweep()["started"] == 0


def test_the_end_sweep_withdraws_and_fails_what_was_never_confirmed(owner):
    space = SpaceFactory()
    lock = enrol(space)
    grant = book(space, owner).grant
    other = SpaceFactory()
    enrol(other)
    never = book(other, owner).grant
    services.record_reported(lock.id, reported(lock, 1, [grant.id]), timezone.now())
    with time_machine.travel(grant.valid_until, tick=False):
        result = services.sweep()
    assert result["ended"] == 2
    grant.refresh_from_db()
    never.refresh_from_db()
    assert grant.withdrawn_at == never.withdrawn_at == grant.valid_until
    assert (never.state, never.problem) == (GrantState.FAILED, GrantProblem.NEVER_CONFIRMED)
    assert grant.state == GrantState.ACTIVE  # until the lock reports a version without it


def test_the_first_granted_event_checks_the_booking_in(owner):
    space = SpaceFactory()
    lock = enrol(space)
    booking = book(space, owner)
    at = booking.start
    for n in (1, 2):
        event = services.record_event(
            lock.id,
            {"schema": 1, "lock_id": lock.id, "event_id": f"e-{n}", "type": "access",
             "result": "granted", "grant_id": booking.grant.id,
             "at": (at + timedelta(minutes=n)).strftime("%Y-%m-%dT%H:%M:%SZ")},
        )  # fmt: skip
        services.check_in(event.pk)
    booking.refresh_from_db()
    assert booking.checked_in_at == at + timedelta(minutes=1)
    # A duplicate of one event is stored once.
    duplicate = {"schema": 1, "lock_id": lock.id, "event_id": "e-1", "type": "door",
                 "state": "open", "at": "2026-12-01T17:02:11Z"}  # fmt: skip
    assert services.record_event(lock.id, duplicate) is None
    assert LockEvent.objects.filter(lock=lock).count() == 2


def test_a_plain_booking_factory_booking_has_no_grant():
    assert not Grant.objects.filter(booking=BookingFactory()).exists()


def signed_desired(lock, version):
    return protocol.encode(
        services.sign(protocol.desired_state(lock.id, version, timezone.now(), []))
    )


def restore(lock, payload, seen, retained):
    """The version a reader that saw `seen` on the topic remembers after `payload`."""
    versions = {} if seen is None else {lock.id: seen}
    services.restore_desired_states([(lock.id, payload, retained)], versions)
    return versions.get(lock.id)


def test_an_older_desired_state_passed_on_live_is_a_lagging_reader_not_a_replay():
    lock = enrol(SpaceFactory())
    Lock.objects.filter(pk=lock.pk).update(desired_version=20, publish_requested_at=None)
    requested = Lock.objects.filter(pk=lock.pk, publish_requested_at__isnull=False)
    # Read live long after newer versions went out: remembered, nothing published.
    assert restore(lock, signed_desired(lock, 7), None, False) == 7
    assert not requested.exists()
    # Older than one the reader saw on the topic: a replay, ours published again.
    assert restore(lock, signed_desired(lock, 5), 7, False) == 7
    assert requested.exists()


def test_a_retained_desired_state_older_than_the_newest_published_is_restored():
    lock = enrol(SpaceFactory())
    Lock.objects.filter(pk=lock.pk).update(desired_version=20, publish_requested_at=None)
    requested = Lock.objects.filter(pk=lock.pk, publish_requested_at__isnull=False)
    assert restore(lock, signed_desired(lock, 20), None, True) == 20
    assert not requested.exists()
    restore(lock, signed_desired(lock, 19), None, True)
    assert requested.exists()
