"""The lock protocol, version 1, in one place (see docs/lock-protocol.md).

Topics, the canonical JSON form, Ed25519 signing and verification, times, and the validation of
every message a lock sends. Pure functions: no Django, no MQTT, so the simulator, the gateway,
the workers and the tests share them.
"""

import base64
import binascii
import json
import re
import secrets
from datetime import UTC, datetime

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

SCHEMA = 1
LOCK_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
CODE = re.compile(r"^[0-9]{4,8}$")
# What a lock sends and the backend listens to; what the backend sends and a lock listens to.
FROM_LOCK = ("reported", "status", "ack", "events")
TO_LOCK = ("desired", "cmd")
COMMAND_OPS = ("unlock_once", "sync")


class InvalidMessage(ValueError):
    """A payload that is not a valid protocol message; the reason is its text."""


# --- topics -----------------------------------------------------------------------------------


def topic(root: str, lock_id: str, kind: str) -> str:
    return f"{root}/locks/{lock_id}/{kind}"


def subscription(root: str, kind: str) -> str:
    """The wildcard topic of one kind of message from every lock."""
    return f"{root}/locks/+/{kind}"


def parse_topic(root: str, name: str) -> tuple[str, str] | None:
    """(lock id, kind) of a topic under `root`, or None for anything else."""
    prefix = f"{root}/locks/"
    if not name.startswith(prefix):
        return None
    parts = name[len(prefix) :].split("/")
    if len(parts) != 2 or not LOCK_ID.match(parts[0]):
        return None
    return parts[0], parts[1]


# --- canonical JSON, times --------------------------------------------------------------------


def canonical(message: dict) -> bytes:
    """The signed form: sorted keys, no white space, non-ASCII unescaped, UTF-8."""
    return json.dumps(message, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def encode(message: dict) -> bytes:
    """A payload on the wire (the canonical form, which every receiver can parse)."""
    return canonical(message)


def decode(payload: bytes) -> dict:
    try:
        message = json.loads(payload.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as error:
        raise InvalidMessage(f"not UTF-8 JSON: {error}") from None
    if not isinstance(message, dict):
        raise InvalidMessage("not a JSON object")
    return message


def format_time(instant: datetime) -> str:
    """RFC 3339 in UTC with `Z`, second precision."""
    return instant.astimezone(UTC).replace(microsecond=0).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_time(value) -> datetime:
    if not isinstance(value, str) or not value.endswith("Z"):
        raise InvalidMessage(f"not an RFC 3339 UTC time: {value!r}")
    try:
        return datetime.strptime(value, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
    except ValueError:
        raise InvalidMessage(f"not an RFC 3339 UTC time: {value!r}") from None


def new_id(prefix: str) -> str:
    return f"{prefix}-{secrets.token_hex(12)}"


# --- keys and signatures ----------------------------------------------------------------------


def generate_private_key() -> str:
    """A new Ed25519 private key as base64 of its raw 32 bytes."""
    return base64.b64encode(Ed25519PrivateKey.generate().private_bytes_raw()).decode()


def load_private_key(encoded: str) -> Ed25519PrivateKey:
    try:
        raw = base64.b64decode(encoded, validate=True)
        return Ed25519PrivateKey.from_private_bytes(raw)
    except (binascii.Error, ValueError) as error:
        raise ValueError(f"not a base64 raw 32-byte Ed25519 private key: {error}") from None


def public_key_b64(private_key: Ed25519PrivateKey) -> str:
    raw = private_key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    return base64.b64encode(raw).decode()


def load_public_key(encoded: str) -> Ed25519PublicKey:
    return Ed25519PublicKey.from_public_bytes(base64.b64decode(encoded, validate=True))


def sign(message: dict, private_key: Ed25519PrivateKey, kid: str) -> dict:
    """The message with `kid` and `sig` (over the canonical form of everything but `sig`)."""
    unsigned = {key: value for key, value in message.items() if key != "sig"}
    unsigned["kid"] = kid
    signature = private_key.sign(canonical(unsigned))
    return {**unsigned, "sig": base64.b64encode(signature).decode()}


def verify(message: dict, public_key: Ed25519PublicKey, kid: str) -> bool:
    """Whether `message` carries a valid signature by the key named `kid`."""
    signature = message.get("sig")
    if message.get("kid") != kid or not isinstance(signature, str):
        return False
    try:
        raw = base64.b64decode(signature, validate=True)
        unsigned = {key: value for key, value in message.items() if key != "sig"}
        public_key.verify(raw, canonical(unsigned))
    except (binascii.Error, ValueError, InvalidSignature):
        return False
    return True


# --- messages the backend sends ---------------------------------------------------------------


def desired_state(lock_id: str, version: int, issued_at: datetime, grants: list[dict]) -> dict:
    """The unsigned desired state; each grant is {grant_id, code, valid_from, valid_until}."""
    return {
        "schema": SCHEMA,
        "lock_id": lock_id,
        "version": version,
        "issued_at": format_time(issued_at),
        "grants": [
            {
                "grant_id": grant["grant_id"],
                "code": grant["code"],
                "valid_from": format_time(grant["valid_from"]),
                "valid_until": format_time(grant["valid_until"]),
            }
            for grant in grants
        ],
    }


def command(lock_id: str, cmd_id: str, op: str, issued_at: datetime, expires_at: datetime) -> dict:
    if op not in COMMAND_OPS:
        raise ValueError(f"unknown op {op!r}")
    return {
        "schema": SCHEMA,
        "lock_id": lock_id,
        "cmd_id": cmd_id,
        "op": op,
        "issued_at": format_time(issued_at),
        "expires_at": format_time(expires_at),
    }


# --- validation of what a lock receives -------------------------------------------------------


def validate_desired(message: dict) -> dict:
    _common(message)
    version = message.get("version")
    if not _is_int(version) or version < 1:
        raise InvalidMessage("version must be a positive integer")
    parse_time(message.get("issued_at"))
    grants = message.get("grants")
    if not isinstance(grants, list):
        raise InvalidMessage("grants must be a list")
    for grant in grants:
        if not isinstance(grant, dict) or not isinstance(grant.get("grant_id"), str):
            raise InvalidMessage("each grant needs a grant_id")
        if not isinstance(grant.get("code"), str) or not CODE.match(grant["code"]):
            raise InvalidMessage("a code is 4 to 8 digits")
        if parse_time(grant.get("valid_until")) <= parse_time(grant.get("valid_from")):
            raise InvalidMessage("valid_until must be after valid_from")
    return message


def validate_command(message: dict) -> dict:
    _common(message)
    if not isinstance(message.get("cmd_id"), str) or not message["cmd_id"]:
        raise InvalidMessage("cmd_id is required")
    if message.get("op") not in COMMAND_OPS:
        raise InvalidMessage(f"op must be one of {', '.join(COMMAND_OPS)}")
    parse_time(message.get("issued_at"))
    parse_time(message.get("expires_at"))
    return message


# --- validation of what a lock sends ----------------------------------------------------------


def validate_from_lock(kind: str, message: dict) -> dict:
    """Check a message a lock sent on `kind`; raise InvalidMessage if it is not valid."""
    _common(message)
    if kind == "reported":
        if not _is_int(message.get("applied_version")) or message["applied_version"] < 0:
            raise InvalidMessage("applied_version must be a non-negative integer")
        ids = message.get("grant_ids")
        if not isinstance(ids, list) or not all(isinstance(i, str) for i in ids):
            raise InvalidMessage("grant_ids must be a list of strings")
    elif kind == "status":
        if not isinstance(message.get("online"), bool):
            raise InvalidMessage("online must be true or false")
    elif kind == "ack":
        if not isinstance(message.get("cmd_id"), str):
            raise InvalidMessage("cmd_id is required")
        if not isinstance(message.get("ok"), bool):
            raise InvalidMessage("ok must be true or false")
    elif kind == "events":
        if not isinstance(message.get("event_id"), str) or not message["event_id"]:
            raise InvalidMessage("event_id is required")
        parse_time(message.get("at"))
        if message.get("type") == "access":
            if message.get("result") not in ("granted", "denied"):
                raise InvalidMessage("result must be granted or denied")
            grant_id = message.get("grant_id")
            if message["result"] == "granted" and not isinstance(grant_id, str):
                raise InvalidMessage("a granted access names its grant_id")
        elif message.get("type") == "door":
            if message.get("state") not in ("open", "closed"):
                raise InvalidMessage("state must be open or closed")
        else:
            raise InvalidMessage("type must be access or door")
    else:
        raise InvalidMessage(f"locks do not send {kind!r}")
    return message


def _common(message: dict) -> None:
    if message.get("schema") != SCHEMA:
        raise InvalidMessage(f"schema must be {SCHEMA}")
    lock_id = message.get("lock_id")
    if not isinstance(lock_id, str) or not LOCK_ID.match(lock_id):
        raise InvalidMessage("lock_id is missing or malformed")


def _is_int(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)
