"""The protocol's pure parts: canonical form, signatures, topics, validation."""

import base64
import json
from datetime import UTC, datetime

import pytest

from devices import protocol

KEY = protocol.load_private_key(protocol.generate_private_key())
PUBLIC = protocol.load_public_key(protocol.public_key_b64(KEY))


def test_the_canonical_form_sorts_keys_without_white_space_and_keeps_non_ascii():
    message = {"b": 1, "a": {"ö": "Kalasatama\u2013hall", "z": [1, 2]}}
    assert (
        protocol.canonical(message) == '{"a":{"z":[1,2],"ö":"Kalasatama\u2013hall"},"b":1}'.encode()
    )
    assert protocol.canonical(message) == json.dumps(
        message, sort_keys=True, separators=(",", ":"), ensure_ascii=False
    ).encode("utf-8")


def test_a_signature_covers_the_canonical_form_without_sig_and_names_the_kid():
    signed = protocol.sign({"schema": 1, "lock_id": "a", "version": 3}, KEY, "backend-1")
    assert signed["kid"] == "backend-1"
    raw = base64.b64decode(signed["sig"], validate=True)
    unsigned = {k: v for k, v in signed.items() if k != "sig"}
    PUBLIC.verify(raw, protocol.canonical(unsigned))  # raises if wrong
    assert protocol.verify(signed, PUBLIC, "backend-1")


def test_a_changed_field_another_key_or_another_kid_fails_verification():
    signed = protocol.sign({"schema": 1, "lock_id": "a", "version": 3}, KEY, "backend-1")
    assert not protocol.verify({**signed, "version": 4}, PUBLIC, "backend-1")
    assert not protocol.verify(signed, PUBLIC, "backend-2")
    other = protocol.load_private_key(protocol.generate_private_key())
    forged = protocol.sign({"schema": 1, "lock_id": "a", "version": 3}, other, "backend-1")
    assert not protocol.verify(forged, PUBLIC, "backend-1")
    assert not protocol.verify({**signed, "sig": "not base64!"}, PUBLIC, "backend-1")
    assert not protocol.verify({k: v for k, v in signed.items() if k != "sig"}, PUBLIC, "backend-1")


def test_times_are_utc_with_z_to_the_second():
    instant = datetime(2026, 12, 1, 17, 50, 1, 999999, tzinfo=UTC)
    assert protocol.format_time(instant) == "2026-12-01T17:50:01Z"
    assert protocol.parse_time("2026-12-01T17:50:01Z") == instant.replace(microsecond=0)


def test_a_receiver_takes_any_rfc_3339_time_with_an_offset():
    at = datetime(2026, 12, 1, 17, 50, 1, tzinfo=UTC)
    # As JavaScript's toISOString() writes it, with +00:00, another offset, a finer fraction.
    assert protocol.parse_time("2026-12-01T17:50:01.000Z") == at
    assert protocol.parse_time("2026-12-01T17:50:01.250Z") == at.replace(microsecond=250000)
    assert protocol.parse_time("2026-12-01T17:50:01+00:00") == at
    assert protocol.parse_time("2026-12-01T19:50:01+02:00") == at
    assert protocol.parse_time("2026-12-01T17:50:01.123456789Z") == at.replace(microsecond=123456)
    for refused in (
        "2026-12-01T17:50:01",  # no offset
        "2026-12-01 17:50:01Z",
        "2026-13-01T17:50:01Z",
        "1970-01-01T00:00:00Z",  # no lock's clock
        "9999-12-31T23:59:59Z",
        "2026-12-01T17:50:01+24:00",
        17,
        None,
    ):
        with pytest.raises(protocol.InvalidMessage):
            protocol.parse_time(refused)


@pytest.mark.parametrize(
    "payload",
    [
        b"x" * (16 * 1024 + 1),  # larger than 16 KiB
        b"[" * 5000 + b"]" * 5000,  # nested beyond the recursion limit
        b'{"a": [[[[1]]]]}',  # nested beyond the protocol's depth
        b'{"a": NaN}',
        b'{"a": Infinity}',
        b'{"battery": 87.5}',  # a fraction
        b'{"a": %d}' % 2**70,  # beyond 64 bits
        b'{"a": %d}' % 2**53,
        b'{"a": -1}',
        rb'{"a": "x\u0000y"}',  # NUL
        rb'{"a": "x\ny"}',
        rb'{"a": "\ud800"}',  # a lone surrogate
        '{"ä": 1}'.encode(),  # a key that is not ASCII
        b"\xff",
        b"[1]",
    ],
)
def test_a_payload_beyond_the_limits_is_refused_before_anything_reads_it(payload):
    with pytest.raises(protocol.InvalidMessage):
        protocol.decode(payload)


def test_a_whole_number_written_with_a_fraction_is_the_integer_it_names():
    # 87.0 is how some encoders write 87; RFC 8785 writes it 87.
    assert protocol.decode(b'{"battery": 87.0, "v": 9007199254740991}') == {
        "battery": 87,
        "v": 2**53 - 1,
    }


def test_the_desired_state_has_the_contracts_shape():
    start = datetime(2026, 12, 1, 16, 55, tzinfo=UTC)
    end = datetime(2026, 12, 1, 19, 5, tzinfo=UTC)
    message = protocol.desired_state(
        "kalasatama-hall-1",
        42,
        datetime(2026, 12, 1, 15, 50, tzinfo=UTC),
        [{"grant_id": "g-1", "code": "482913", "valid_from": start, "valid_until": end}],
    )
    assert message == {
        "schema": 1,
        "lock_id": "kalasatama-hall-1",
        "version": 42,
        "issued_at": "2026-12-01T15:50:00Z",
        "grants": [
            {
                "grant_id": "g-1",
                "code": "482913",
                "valid_from": "2026-12-01T16:55:00Z",
                "valid_until": "2026-12-01T19:05:00Z",
            }
        ],
    }
    assert protocol.validate_desired(message) is message


def test_topics_name_the_lock_and_the_kind():
    assert (
        protocol.topic("flexispace/v1", "hall-1", "desired") == "flexispace/v1/locks/hall-1/desired"
    )
    assert protocol.parse_topic("flexispace/v1", "flexispace/v1/locks/hall-1/reported") == (
        "hall-1",
        "reported",
    )
    assert protocol.parse_topic("flexispace/v1", "other/v1/locks/hall-1/reported") is None
    assert protocol.parse_topic("flexispace/v1", "flexispace/v1/locks/a/b/reported") is None


@pytest.mark.parametrize(
    ("kind", "message"),
    [
        ("reported", {"schema": 1, "lock_id": "a", "applied_version": -1, "grant_ids": []}),
        ("reported", {"schema": 1, "lock_id": "a", "applied_version": 1, "grant_ids": "g"}),
        ("reported", {"schema": 2, "lock_id": "a", "applied_version": 1, "grant_ids": []}),
        ("status", {"schema": 1, "lock_id": "a b", "online": True}),
        ("status", {"schema": 1, "lock_id": "a", "online": "yes"}),
        ("ack", {"schema": 1, "lock_id": "a", "ok": True}),
        ("events", {"schema": 1, "lock_id": "a", "event_id": "e", "type": "access",
                    "result": "granted", "grant_id": None, "at": "2026-12-01T17:02:11Z"}),
        ("events", {"schema": 1, "lock_id": "a", "event_id": "e", "type": "smoke",
                    "at": "2026-12-01T17:02:11Z"}),
        ("desired", {"schema": 1, "lock_id": "a"}),
        ("events", {"schema": 1, "lock_id": "a", "event_id": "e" * 81, "type": "door",
                    "state": "open", "at": "2026-12-01T17:02:11Z"}),
        ("events", {"schema": 1, "lock_id": "a", "event_id": "e", "type": "access",
                    "result": "granted", "grant_id": "g" * 65, "at": "2026-12-01T17:02:11Z"}),
        ("events", {"schema": 1, "lock_id": "a", "event_id": "e", "type": "door",
                    "state": "open", "at": "1000-01-01T00:00:00Z"}),
        ("reported", {"schema": 1, "lock_id": "a", "applied_version": 1, "grant_ids": ["g h"]}),
        ("reported", {"schema": 1, "lock_id": "a", "applied_version": 1, "grant_ids": [],
                      "battery": 101}),
        ("ack", {"schema": 1, "lock_id": "a", "cmd_id": "c", "ok": False, "error": "x" * 201}),
    ],
)  # fmt: skip
def test_malformed_messages_from_a_lock_are_refused(kind, message):
    with pytest.raises(protocol.InvalidMessage):
        protocol.validate_from_lock(kind, message)


def test_codes_are_four_to_eight_digits():
    base = {"schema": 1, "lock_id": "a", "version": 1, "issued_at": "2026-12-01T15:50:00Z"}
    grant = {
        "grant_id": "g",
        "valid_from": "2026-12-01T16:55:00Z",
        "valid_until": "2026-12-01T19:05:00Z",
    }
    for code in ("1234", "12345678"):
        protocol.validate_desired({**base, "grants": [{**grant, "code": code}]})
    for code in ("123", "123456789", "12a4"):
        with pytest.raises(protocol.InvalidMessage):
            protocol.validate_desired({**base, "grants": [{**grant, "code": code}]})
