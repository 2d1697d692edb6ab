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
# Every id of the protocol (lock_id, grant_id, cmd_id, event_id).
ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
LOCK_ID = ID
CODE = re.compile(r"^[0-9]{4,8}$")
# The protocol's limits: what a receiver takes before it looks at a message's meaning.
MAX_PAYLOAD = 16 * 1024
MAX_DEPTH = 4  # the desired state is the deepest message: object, grants, grant
MAX_INTEGER = 2**53 - 1
MAX_TEXT = 200  # any other string (an ack's error)
# RFC 3339 with an offset, fractional seconds allowed (as JavaScript's toISOString() writes).
TIME = re.compile(
    r"^(\d{4}-\d{2}-\d{2})[Tt](\d{2}:\d{2}:\d{2})(?:\.(\d{1,9}))?([Zz]|[+-]\d{2}:\d{2})$"
)
# Times outside these years are no lock's clock: refused before they reach arithmetic.
YEARS = range(2000, 2100)
# C0 controls, DEL and C1 controls: never in an id or a text of the protocol.
CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
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
    """A payload as a JSON object within the protocol's limits; InvalidMessage otherwise.

    Size, nesting depth, ASCII keys, strings without control characters or lone surrogates,
    whole numbers within 0..2^53-1 (87.0 is 87; 87.5, NaN and Infinity are refused), so what
    comes out can be stored and compared without surprises.
    """
    if len(payload) > MAX_PAYLOAD:
        raise InvalidMessage(f"larger than {MAX_PAYLOAD} bytes ({len(payload)})")
    try:
        message = json.loads(
            payload.decode("utf-8"), parse_float=_whole_number, parse_constant=_no_constant
        )
    except RecursionError:
        raise InvalidMessage(f"nested deeper than {MAX_DEPTH}") from None
    except InvalidMessage:
        raise
    except (UnicodeDecodeError, ValueError) as error:
        raise InvalidMessage(f"not UTF-8 JSON: {str(error)[:80]}") from None
    if not isinstance(message, dict):
        raise InvalidMessage("not a JSON object")
    _check_values(message)
    return message


def _whole_number(text: str) -> int:
    value = float(text)
    if not value.is_integer():
        raise InvalidMessage(f"not a whole number: {text[:20]}")
    return int(value)


def _no_constant(text: str):
    raise InvalidMessage(f"not a number: {text}")


def _check_values(message: dict) -> None:
    """Walk the parsed message (without recursion) and refuse anything beyond the limits."""
    pending = [(message, 1)]
    while pending:
        value, depth = pending.pop()
        if isinstance(value, dict | list):
            if depth > MAX_DEPTH:
                raise InvalidMessage(f"nested deeper than {MAX_DEPTH}")
            if isinstance(value, dict):
                for key in value:
                    if not key.isascii() or CONTROL.search(key):
                        raise InvalidMessage(f"a key that is not plain ASCII: {key[:20]!r}")
            pending.extend((item, depth + 1) for item in _items(value))
        elif isinstance(value, str):
            if CONTROL.search(value):
                raise InvalidMessage(f"a control character in {value[:20]!r}")
            try:
                value.encode("utf-8")
            except UnicodeEncodeError:
                raise InvalidMessage("a lone surrogate in a string") from None
        elif _is_int(value) and not 0 <= value <= MAX_INTEGER:
            raise InvalidMessage(f"an integer outside 0..2^53-1: {str(value)[:20]}")


def _items(value: dict | list):
    return value.values() if isinstance(value, dict) else value


def format_time(instant: datetime) -> str:
    """RFC 3339 in UTC with `Z`, second precision."""
    return instant.astimezone(UTC).replace(microsecond=0).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_time(value) -> datetime:
    """An RFC 3339 time with an offset (`Z`, `+00:00`, fractional seconds), as a UTC instant."""
    match = TIME.match(value) if isinstance(value, str) else None
    if match is None or int(value[:4]) not in YEARS:
        raise InvalidMessage(f"not an RFC 3339 time: {str(value)[:40]!r}")
    date, clock, digits, offset = match.groups()
    # Python takes at most microseconds; a finer fraction is cut, never rounded up.
    fraction = f".{digits[:6]:0<6}" if digits else ""
    offset = "+00:00" if offset in "Zz" else offset
    try:
        instant = datetime.fromisoformat(f"{date}T{clock}{fraction}{offset}")
    except ValueError:
        raise InvalidMessage(f"not an RFC 3339 time: {value[:40]!r}") from None
    return instant.astimezone(UTC)


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


def public_key_pem(private_key: Ed25519PrivateKey) -> str:
    """The public key as PEM SubjectPublicKeyInfo (what tweetnacl's users convert from)."""
    pem = private_key.public_key().public_bytes(Encoding.PEM, PublicFormat.SubjectPublicKeyInfo)
    return pem.decode()


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
        if not isinstance(grant, dict):
            raise InvalidMessage("each grant is an object")
        _id(grant, "grant_id")
        if not isinstance(grant.get("code"), str) or not CODE.match(grant["code"]):
            raise InvalidMessage("a code is 4 to 8 digits")
        if parse_time(grant.get("valid_until")) <= parse_time(grant.get("valid_from")):
            raise InvalidMessage("valid_until must be after valid_from")
    return message


def validate_command(message: dict) -> dict:
    """A command's fields; an unknown `op` is left to the lock, which acks it `unknown_op`."""
    _common(message)
    _id(message, "cmd_id")
    if not isinstance(message.get("op"), str):
        raise InvalidMessage("op is required")
    parse_time(message.get("issued_at"))
    parse_time(message.get("expires_at"))
    return message


# --- validation of what a lock sends ----------------------------------------------------------


def validate_from_lock(kind: str, message: dict) -> dict:
    """Check a decoded message a lock sent on `kind`; raise InvalidMessage if it is not valid."""
    _common(message)
    if kind == "reported":
        if not _is_int(message.get("applied_version")) or message["applied_version"] < 0:
            raise InvalidMessage("applied_version must be a non-negative integer")
        ids = message.get("grant_ids")
        if not isinstance(ids, list) or not all(isinstance(i, str) and ID.match(i) for i in ids):
            raise InvalidMessage("grant_ids must be a list of grant ids")
        if "clock" in message:
            parse_time(message["clock"])
        battery = message.get("battery")
        if battery is not None and not (_is_int(battery) and battery <= 100):
            raise InvalidMessage("battery must be a whole percentage, 0 to 100")
    elif kind == "status":
        if not isinstance(message.get("online"), bool):
            raise InvalidMessage("online must be true or false")
        if "at" in message:
            parse_time(message["at"])
    elif kind == "ack":
        _id(message, "cmd_id")
        if not isinstance(message.get("ok"), bool):
            raise InvalidMessage("ok must be true or false")
        error = message.get("error")
        if error is not None and not (isinstance(error, str) and len(error) <= MAX_TEXT):
            raise InvalidMessage(f"error must be null or a text of at most {MAX_TEXT} characters")
    elif kind == "events":
        _id(message, "event_id")
        parse_time(message.get("at"))
        if message.get("type") == "access":
            if message.get("result") not in ("granted", "denied"):
                raise InvalidMessage("result must be granted or denied")
            if message["result"] == "granted" or message.get("grant_id") is not None:
                _id(message, "grant_id")
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
    _id(message, "lock_id")


def _id(message: dict, key: str) -> None:
    value = message.get(key)
    if not isinstance(value, str) or not ID.match(value):
        raise InvalidMessage(f"{key} must be 1 to 64 letters, digits, '-' or '_'")


def _is_int(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)
