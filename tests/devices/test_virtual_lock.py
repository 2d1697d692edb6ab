"""The simulated lock's logic alone, without MQTT: it behaves as the protocol says."""

from datetime import UTC, datetime, timedelta

import pytest

from devices import protocol
from devices.simulator import VirtualLock

KEY = protocol.load_private_key(protocol.generate_private_key())
PUBLIC = protocol.public_key_b64(KEY)
NOW = datetime(2026, 12, 1, 15, 50, tzinfo=UTC)
WINDOW = (NOW + timedelta(hours=1), NOW + timedelta(hours=3))


class Clock:
    def __init__(self, now=NOW):
        self.now = now

    def __call__(self):
        return self.now


def desired(version, grants=(), lock_id="hall-1", key=KEY, kid="backend-1"):
    grants = [
        {"grant_id": gid, "code": code, "valid_from": WINDOW[0], "valid_until": WINDOW[1]}
        for gid, code in grants
    ]
    message = protocol.desired_state(lock_id, version, NOW, grants)
    return protocol.encode(protocol.sign(message, key, kid))


def command(cmd_id, op="unlock_once", expires=NOW + timedelta(minutes=1), lock_id="hall-1"):
    # Built as a sync and renamed, so an op the protocol does not know can be sent too.
    message = {**protocol.command(lock_id, cmd_id, "sync", NOW, expires), "op": op}
    return protocol.encode(protocol.sign(message, KEY, "backend-1"))


@pytest.fixture
def clock():
    return Clock()


@pytest.fixture
def lock(tmp_path, clock):
    return VirtualLock("hall-1", PUBLIC, "backend-1", state_dir=tmp_path, clock=clock)


def test_it_applies_a_signed_desired_state_and_reports_it(lock):
    [out] = lock.receive("desired", desired(5, [("g-1", "482913")]))
    assert out.kind == "reported"
    assert out.retain
    assert out.message["applied_version"] == 5
    assert out.message["grant_ids"] == ["g-1"]
    assert out.message["lock_id"] == "hall-1"


def test_it_ignores_a_replayed_older_or_equal_version(lock):
    old = desired(5, [("g-1", "482913")])
    lock.receive("desired", old)
    lock.receive("desired", desired(6, []))
    assert lock.receive("desired", old) == []
    assert lock.receive("desired", desired(6, [("g-2", "1111")])) == []
    assert (lock.applied_version, lock.grants) == (6, [])


def test_it_ignores_forged_and_foreign_messages(lock):
    other_key = protocol.load_private_key(protocol.generate_private_key())
    assert lock.receive("desired", desired(7, [("g-x", "0000")], key=other_key)) == []
    tampered = protocol.decode(desired(7, [("g-1", "482913")]))
    tampered["grants"][0]["code"] = "000000"
    assert lock.receive("desired", protocol.encode(tampered)) == []
    assert lock.receive("desired", desired(7, [("g-x", "0000")], lock_id="hall-2")) == []
    assert lock.receive("desired", desired(7, [("g-x", "0000")], kid="backend-9")) == []
    assert lock.receive("desired", b"{not json") == []
    assert lock.applied_version == 0
    assert len(lock.rejected) == 5


def test_it_keeps_its_version_and_codes_across_a_restart(lock, tmp_path, clock):
    lock.receive("desired", desired(9, [("g-1", "482913")]))
    restarted = VirtualLock("hall-1", PUBLIC, "backend-1", state_dir=tmp_path, clock=clock)
    assert restarted.applied_version == 9
    assert restarted.receive("desired", desired(8, [])) == []
    assert [g["grant_id"] for g in restarted.grants] == ["g-1"]


def test_a_code_opens_only_inside_its_window_by_the_locks_own_clock(lock, clock):
    lock.receive("desired", desired(1, [("g-1", "482913")]))
    clock.now = WINDOW[0] - timedelta(seconds=1)
    assert lock.try_code("482913").message["result"] == "denied"
    clock.now = WINDOW[0]
    event = lock.try_code("482913").message
    assert (event["result"], event["grant_id"], event["type"]) == ("granted", "g-1", "access")
    assert lock.try_code("999999").message["grant_id"] is None
    clock.now = WINDOW[1]
    assert lock.try_code("482913").message["result"] == "denied"


def test_clock_skew_moves_the_window_as_the_lock_sees_it(lock, clock):
    lock.receive("desired", desired(1, [("g-1", "482913")]))
    clock.now = WINDOW[1] - timedelta(minutes=1)
    assert lock.try_code("482913").message["result"] == "granted"
    lock.skew = timedelta(minutes=2)
    assert lock.try_code("482913").message["result"] == "denied"


def test_a_command_runs_once_and_a_duplicate_gets_the_same_ack(lock):
    first = lock.receive("cmd", command("c-1"))
    assert [o.kind for o in first] == ["ack", "events"]
    assert first[0].message["ok"] is True
    assert first[1].message["type"] == "door"
    again = lock.receive("cmd", command("c-1"))
    assert [o.kind for o in again] == ["ack"]
    assert again[0].message == first[0].message


def test_an_expired_foreign_or_unknown_command_is_refused_with_an_ack(lock):
    [ack] = lock.receive("cmd", command("c-2", expires=NOW - timedelta(seconds=1)))
    assert (ack.message["ok"], ack.message["error"]) == (False, "expired")
    [ack] = lock.receive("cmd", command("c-3", lock_id="hall-2"))
    assert (ack.message["lock_id"], ack.message["ok"], ack.message["error"]) == (
        "hall-1",
        False,
        "foreign_lock",
    )
    [ack] = lock.receive("cmd", command("c-5", op="self_destruct"))
    assert (ack.message["ok"], ack.message["error"]) == (False, "unknown_op")


def test_sync_republishes_reported(lock):
    outs = lock.receive("cmd", command("c-4", op="sync"))
    assert [o.kind for o in outs] == ["ack", "reported"]


def test_on_connect_it_says_online_and_reports_and_its_will_says_offline(lock):
    status, reported = lock.on_connect()
    assert (status.kind, status.retain, status.message["online"]) == ("status", True, True)
    assert reported.kind == "reported"
    will = lock.last_will()
    assert will.message == {"schema": 1, "lock_id": "hall-1", "online": False}
    assert will.retain


def test_a_window_in_any_rfc_3339_form_admits_by_the_instants_it_names(lock, clock):
    desired = protocol.desired_state("hall-1", 3, NOW, [])
    desired["grants"] = [
        {"grant_id": "g-1", "code": "4321", "valid_from": "2026-12-01T17:50:00.000+02:00",
         "valid_until": "2026-12-01T16:10:00.5Z"},
    ]  # fmt: skip
    lock.receive("desired", protocol.encode(protocol.sign(desired, KEY, "backend-1")))
    assert lock.applied_version == 3
    clock.now = datetime(2026, 12, 1, 15, 49, 59, tzinfo=UTC)
    assert lock.try_code("4321").message["result"] == "denied"
    clock.now = datetime(2026, 12, 1, 15, 50, tzinfo=UTC)
    assert lock.try_code("4321").message["result"] == "granted"
    clock.now = datetime(2026, 12, 1, 16, 10, 1, tzinfo=UTC)
    assert lock.try_code("4321").message["result"] == "denied"
