"""The access verbs: enrol a lock, create and withdraw grants, publish a lock's desired state,
the boundary sweep, and recording what the locks report.

Row-lock order, everywhere: grant rows before lock rows, lock rows in id order. The publication
holds only lock rows, so it can wait for the broker's PUBACK without blocking any grant.
"""

import contextlib
import json
import logging
import secrets
from collections import defaultdict
from datetime import datetime, timedelta
from functools import cache

from django.conf import settings
from django.contrib.auth.hashers import make_password
from django.db import DatabaseError, IntegrityError, connection, transaction
from django.db.models import F, OuterRef, Q, Subquery
from django.utils import timezone

from api.access import broker, signals
from api.access.choices import (
    AnomalyKind,
    CommandOp,
    CommandState,
    GrantProblem,
    GrantState,
    WithdrawReason,
)
from api.access.models import Grant, Lock, LockAnomaly, LockCommand, LockEvent
from api.bookings.choices import BookingStatus
from api.bookings.models import Booking
from api.catalogue.models import Space
from api.organisations import scoping
from api.organisations.choices import Role
from devices import keys, protocol
from workers.queue import enqueue_on_commit

log = logging.getLogger(__name__)

# Locks per publication task, and rows per sweep transaction.
PUBLISH_CHUNK = 100
SWEEP_CHUNK = 2000
COMMAND_LIFETIME = timedelta(seconds=60)


# --- keys -------------------------------------------------------------------------------------


@cache
def _private_key():
    configured = settings.LOCK_SIGNING_KEY
    return protocol.load_private_key(
        configured or keys.development_key(settings.LOCK_SIGNING_KEY_FILE)
    )


def public_key() -> str:
    """The backend's public key, base64 of its raw 32 bytes, as locks learn it at enrolment."""
    return protocol.public_key_b64(_private_key())


def public_key_pem() -> str:
    """The same key as PEM SubjectPublicKeyInfo, for libraries that want it."""
    return protocol.public_key_pem(_private_key())


def private_key_bytes() -> bytes:
    """The raw private key, from which the locks' MQTT passwords are derived (broker.py)."""
    return _private_key().private_bytes_raw()


def sign(message: dict) -> dict:
    return protocol.sign(message, _private_key(), settings.LOCK_SIGNING_KID)


def _publish_signed(mqtt, lock_id: str, kind: str, message: dict):
    """Sign a backend message and publish it, QoS 1, to the lock's `desired` or `cmd` topic.

    The desired state is retained, so a lock that connects later gets it at once; a command
    is a one-off and is not.
    """
    topic = protocol.topic(settings.MQTT_TOPIC_ROOT, lock_id, kind)
    return mqtt.publish(topic, protocol.encode(sign(message)), retain=kind == "desired")


# --- enrolment --------------------------------------------------------------------------------


def enrol_lock(lock_id: str, space: Space) -> tuple[Lock, str]:
    """Enrol a lock on a space; return it with its MQTT password (kept only as a hash).

    The space's bookings that have not ended get their grants at once, and a first desired
    state is published even without any, so a new lock always finds a signed state waiting.
    With MQTT_ADMIN_URL set its broker account is created before the row commits (a broker
    that cannot do it fails the enrolment: broker.BrokerError).
    """
    salt = broker.new_salt()
    password = broker.lock_password(lock_id, salt)
    with transaction.atomic():
        lock = Lock.objects.create(
            id=lock_id, space=space, password_hash=make_password(password), password_salt=salt
        )
        bookings = Booking.objects.filter(
            space=space, status=BookingStatus.CONFIRMED, end__gt=timezone.now()
        ).select_related("space")
        for booking in bookings:
            create_grant(booking)
        request_publish([lock.id])
        if broker.enabled():
            broker.create_lock(lock_id, password)
    log.info("enrolled lock %s on space %s", lock_id, space.pk)
    return lock, password


def rotate_password(lock: Lock) -> str:
    """A new MQTT password for the lock, in force on the broker at once; the old one stops."""
    salt = broker.new_salt()
    password = broker.lock_password(lock.id, salt)
    with transaction.atomic():
        Lock.objects.filter(pk=lock.pk).update(
            password_hash=make_password(password), password_salt=salt
        )
        if broker.enabled():
            broker.set_lock_password(lock.id, password)
    log.info("lock %s has a new MQTT password", lock.id)
    return password


def remove_lock(lock: Lock) -> None:
    """Remove a lock: its grants go with it, its retained desired state is cleared (no code
    stays on the broker), and with MQTT_ADMIN_URL set its broker account is deleted at once."""
    from devices.mqtt import publisher

    with transaction.atomic():
        Lock.objects.filter(pk=lock.pk).delete()
        if broker.enabled():
            broker.delete_lock(lock.id)
        mqtt = publisher()
        topic = protocol.topic(settings.MQTT_TOPIC_ROOT, lock.id, "desired")
        mqtt.wait([mqtt.publish(topic, b"", retain=True)])
    log.info("removed lock %s", lock.id)


# --- grants -----------------------------------------------------------------------------------


def create_grant(booking: Booking) -> Grant | None:
    """Give a confirmed booking its PIN on its space's lock; None when the space has none."""
    return next(iter(create_grants([booking])), None)


def create_grants(bookings: list[Booking]) -> list[Grant]:
    """Give confirmed bookings their PINs on their spaces' locks (a space without a lock needs
    none).

    Call inside the transaction that created the bookings (select_for_update refuses to run
    outside one). The locks are locked once, in id order, so that two batches of bookings
    cannot deadlock. Inside the provisioning lead time the lock is asked for a publication at
    once; later grants wait for the sweep.
    """
    if not bookings:
        return []
    locks = {
        lock.space_id: lock
        for lock in Lock.objects.select_for_update()
        .filter(space_id__in={booking.space_id for booking in bookings})
        .order_by("id")
    }
    return [
        _create_grant(booking, locks[booking.space_id])
        for booking in bookings
        if booking.space_id in locks
    ]


def _create_grant(booking: Booking, lock: Lock) -> Grant:
    space = booking.space
    valid_from = booking.start - timedelta(minutes=space.access_grace_before_minutes)
    valid_until = booking.end + timedelta(minutes=space.access_grace_after_minutes)
    now = timezone.now()
    queued = valid_from <= now + settings.LOCK_PROVISION_LEAD
    # The lock row is ours, so no other grant on this lock picks a code meanwhile; the
    # exclusion constraint stands behind this check.
    taken = set(
        Grant.objects.filter(
            lock=lock,
            withdrawn_at__isnull=True,
            valid_from__lt=valid_until,
            valid_until__gt=valid_from,
        ).values_list("code", flat=True)
    )
    grant = Grant.objects.create(
        lock=lock,
        booking=booking,
        code=_new_code(taken),
        valid_from=valid_from,
        valid_until=valid_until,
        slot_start=booking.start,
        slot_end=booking.end,
        queued_at=now if queued else None,
    )
    if queued:
        request_publish([lock.id])
    return grant


def _new_code(taken: set[str]) -> str:
    digits = settings.LOCK_CODE_DIGITS
    for _ in range(1000):
        code = f"{secrets.randbelow(10**digits):0{digits}d}"
        if code not in taken:
            return code
    raise RuntimeError("no free code on this lock; raise LOCK_CODE_DIGITS")


def withdraw_grant(booking: Booking) -> None:
    """Take a cancelled booking's code off its lock at once; repeating it changes nothing."""
    withdraw_grants([booking.pk], WithdrawReason.CANCELLED)


def withdraw_grants(booking_ids: list[int], reason: str) -> None:
    """Take the codes of these bookings off their locks at once (a cancellation, a no-show
    released); repeating it changes nothing."""
    with transaction.atomic():
        grants = list(
            Grant.objects.select_for_update()
            .filter(booking_id__in=booking_ids, withdrawn_at__isnull=True)
            .order_by("id")
            .values_list("id", flat=True)
        )
        if grants:
            _withdraw(grants, reason, timezone.now())


def _withdraw(grant_ids: list[str], reason: str, now: datetime) -> list[str]:
    """Withdraw grants whose rows the caller has locked; return the locks to publish to.

    A grant never queued for its lock is revoked at once. Any other must be confirmed: by a
    report of a version newer than the lock's desired version now, which is read under the lock
    row, so every later publication was computed after this withdrawal.
    """
    grants = Grant.objects.filter(id__in=grant_ids)
    lock_ids = sorted(set(grants.filter(queued_at__isnull=False).values_list("lock_id", flat=True)))
    versions = dict(
        Lock.objects.select_for_update()
        .filter(id__in=lock_ids)
        .order_by("id")
        .values_list("id", "desired_version")
    )
    # The code goes with the withdrawal: the lock drops it by its absence from the next
    # publication, and nobody needs it after (api/privacy: door codes are not kept).
    grants.filter(queued_at__isnull=True).update(
        withdrawn_at=now,
        withdraw_reason=reason,
        state=GrantState.REVOKED,
        revoked_at=now,
        code="",
    )
    on_lock = grants.filter(queued_at__isnull=False)
    if reason == WithdrawReason.ENDED:
        # Never confirmed before its window ended: the person could not get in.
        on_lock.filter(state=GrantState.PENDING).update(
            state=GrantState.FAILED, problem=GrantProblem.NEVER_CONFIRMED, flagged_at=now
        )
    # One statement for them all; the lock rows are ours, so each version read is current.
    on_lock.update(
        withdrawn_at=now,
        withdraw_reason=reason,
        code="",
        revoke_version=Subquery(
            Lock.objects.filter(id=OuterRef("lock_id")).values("desired_version")[:1]
        ),
    )
    request_publish(list(versions))
    return list(versions)


# --- publication ------------------------------------------------------------------------------


def request_publish(lock_ids: list[str]) -> list[str]:
    """Ask for a publication to each lock, after the caller's transaction commits.

    A lock that already has one asked for and not yet made is left as it is: the pending task
    reads the grants when it runs, so it carries this change too. Returns the locks queued.
    """
    if not lock_ids:
        return []
    now = timezone.now()
    with transaction.atomic():
        # Every row is locked before its request is read: a publication under way holds its
        # lock's row from before it reads the grants until it commits, so waiting for it here
        # means reading the request it left (cleared: this change needs a publication of its
        # own). Filtering on the request in the locking query would skip such a row by the
        # snapshot taken before it committed, and the change would reach no publication.
        requested = dict(
            Lock.objects.select_for_update()
            .filter(id__in=lock_ids)
            .order_by("id")
            .values_list("id", "publish_requested_at")
        )
        ids = [lock_id for lock_id, at in requested.items() if at is None]
        Lock.objects.filter(id__in=ids).update(publish_requested_at=now)
        _enqueue_publications(ids)
    return ids


def _enqueue_publications(lock_ids: list[str]) -> None:
    for start in range(0, len(lock_ids), PUBLISH_CHUNK):
        enqueue_on_commit("locks.publish", lock_ids[start : start + PUBLISH_CHUNK])


def desired_grants(lock_ids: list[str], now: datetime) -> dict[str, list[Grant]]:
    """The complete grant set each lock must hold now."""
    grants = Grant.objects.filter(
        lock_id__in=lock_ids,
        queued_at__isnull=False,
        withdrawn_at__isnull=True,
        valid_from__lte=now + settings.LOCK_PROVISION_LEAD,
        valid_until__gt=now,
    ).exclude(state__in=[GrantState.REVOKED, GrantState.FAILED])
    by_lock = defaultdict(list)
    for grant in grants.order_by("valid_from", "id"):
        by_lock[grant.lock_id].append(grant)
    return by_lock


def publish_desired_state(lock_ids: list[str]) -> dict[str, int]:
    """Publish each lock's full grant set, signed, retained, QoS 1, under a new version.

    Only locks with a publication asked for are published (a second task for the same request
    finds nothing to do). A version is committed before it is published, so no lock ever
    receives one the database does not hold; the lock rows are held only while the version and
    the grants are read. Publications to one lock follow each other whole (a session advisory
    lock per lock, held until the broker acknowledged), so a later one always carries a higher
    version and reaches the broker after this one: the retained state is never older than the
    newest version the broker acknowledged. A failed publication asks again for the locks it
    could not confirm and raises NotPublished (the task retries). Returns {lock id: version}.
    """
    from devices.mqtt import NotPublished, publisher

    mqtt = publisher()
    with _publishing(sorted(set(lock_ids))):
        with transaction.atomic():
            locked = list(
                Lock.objects.select_for_update()
                .filter(id__in=lock_ids, publish_requested_at__isnull=False)
                .order_by("id")
                .values_list("id", flat=True)
            )
            if not locked:
                return {}
            now = timezone.now()
            with connection.cursor() as cursor:
                cursor.execute(
                    "UPDATE access_lock SET desired_version = nextval('access_lock_version'),"
                    " publish_requested_at = NULL, last_published_at = %s"
                    " WHERE id = ANY(%s) RETURNING id, desired_version",
                    [now, locked],
                )
                versions = dict(cursor.fetchall())
            grants = desired_grants(locked, now)
            messages = {
                lock_id: protocol.desired_state(
                    lock_id,
                    versions[lock_id],
                    now,
                    [g.as_desired() for g in grants.get(lock_id, [])],
                )
                for lock_id in locked
            }
        try:
            mqtt.wait(
                [_publish_signed(mqtt, lock_id, "desired", m) for lock_id, m in messages.items()]
            )
        except NotPublished:
            Lock.objects.filter(id__in=locked, publish_requested_at__isnull=True).update(
                publish_requested_at=timezone.now()
            )
            raise
    return versions


# A session advisory lock per lock id (hashed; a collision only makes two locks wait in turn).
_PUBLISHING = 0x10C5


@contextlib.contextmanager
def _publishing(lock_ids: list[str]):
    """Hold each lock's publishing lock (taken in key order, so two publishers never deadlock)
    across the transaction and the wait for the broker; a lost connection releases them."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pg_advisory_lock(%s, k) FROM"
            " (SELECT DISTINCT hashtext(i) AS k FROM unnest(%s::text[]) AS i ORDER BY k) AS s",
            [_PUBLISHING, lock_ids],
        )
    try:
        yield
    finally:
        with contextlib.suppress(DatabaseError), connection.cursor() as cursor:
            cursor.execute(
                "SELECT pg_advisory_unlock(%s, k) FROM"
                " (SELECT DISTINCT hashtext(i) AS k FROM unnest(%s::text[]) AS i) AS s",
                [_PUBLISHING, lock_ids],
            )


def send_command(cmd_id: str) -> bool:
    """Publish a queued command, signed, once; False if it is gone, sent or expired."""
    from devices.mqtt import publisher

    with transaction.atomic():
        command = (
            LockCommand.objects.select_for_update()
            .filter(cmd_id=cmd_id, state=CommandState.QUEUED)
            .first()
        )
        if command is None:
            return False
        now = timezone.now()
        if command.expires_at <= now:
            command.state = CommandState.FAILED
            command.error = "expired before it was sent"
            command.save(update_fields=["state", "error"])
            return False
        message = protocol.command(
            command.lock_id, command.cmd_id, command.op, command.issued_at, command.expires_at
        )
        mqtt = publisher()
        mqtt.wait([_publish_signed(mqtt, command.lock_id, "cmd", message)])
        command.state = CommandState.SENT
        command.sent_at = now
        command.save(update_fields=["state", "sent_at"])
    return True


def unlock_once(lock: Lock, user=None) -> LockCommand:
    """Open the door once, remotely; the lock's ack is recorded on the command."""
    now = timezone.now()
    with transaction.atomic():
        command = LockCommand.objects.create(
            lock=lock,
            op=CommandOp.UNLOCK_ONCE,
            issued_at=now,
            expires_at=now + COMMAND_LIFETIME,
            requested_by=user if user and user.is_authenticated else None,
        )
        enqueue_on_commit("locks.send_command", command.cmd_id)
    return command


# --- the boundary sweep -----------------------------------------------------------------------


# A session advisory lock held by the sweep under way.
_SWEEPING = 0x5EE9


def sweep(now: datetime | None = None) -> dict[str, int]:
    """Provision, start, end, and republish to lagging locks; one at a time.

    Each phase claims its due rows with FOR UPDATE SKIP LOCKED in chunks and marks them in the
    same transaction, so a sweep that ran alongside would skip them while they are claimed and
    no longer find them due afterwards; publications coalesce per lock. A sweep that finds
    another under way returns at once (all zeros): a second one would only split the same rows
    between two worker processes, leaving none free for the publications the first one queues
    (at a boundary of 10,000 grants, two sweeps held both processes for 9 s while every
    publication waited), and the next tick finds whatever became due since.
    """
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_lock(%s)", [_SWEEPING])
        if not cursor.fetchone()[0]:
            return dict.fromkeys(("provisioned", "started", "ended", "republished"), 0)
    try:
        now = now or timezone.now()
        return {
            "provisioned": _in_chunks(lambda: _provision_chunk(now)),
            "started": _in_chunks(lambda: _start_chunk(now)),
            "ended": _in_chunks(lambda: _end_chunk(now)),
            "republished": _republish_lagging(now),
        }
    finally:
        # A lost connection has released it already.
        with contextlib.suppress(DatabaseError), connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_unlock(%s)", [_SWEEPING])


def _in_chunks(chunk) -> int:
    total = 0
    while True:
        with transaction.atomic():
            done = chunk()
        total += done
        if done < SWEEP_CHUNK:
            return total


def _claim(queryset) -> list[tuple[str, str]]:
    return list(
        queryset.select_for_update(skip_locked=True)
        .order_by()
        .values_list("id", "lock_id")[:SWEEP_CHUNK]
    )


def _provision_chunk(now: datetime) -> int:
    claimed = _claim(
        Grant.objects.filter(
            queued_at__isnull=True,
            withdrawn_at__isnull=True,
            valid_from__lte=now + settings.LOCK_PROVISION_LEAD,
        )
    )
    Grant.objects.filter(id__in=[g for g, _ in claimed]).update(queued_at=now)
    request_publish(sorted({lock for _, lock in claimed}))
    return len(claimed)


def _start_chunk(now: datetime) -> int:
    claimed = _claim(
        Grant.objects.filter(
            started_at__isnull=True, withdrawn_at__isnull=True, slot_start__lte=now
        )
    )
    ids = [g for g, _ in claimed]
    grants = Grant.objects.filter(id__in=ids)
    grants.filter(state=GrantState.PROVISIONED).update(state=GrantState.ACTIVE)
    unconfirmed = list(grants.filter(state=GrantState.PENDING).values_list("id", flat=True))
    Grant.objects.filter(id__in=unconfirmed).update(
        problem=GrantProblem.UNCONFIRMED_AT_START, flagged_at=now
    )
    grants.update(started_at=now)
    if unconfirmed:
        log.warning("%d grants not confirmed by their lock at their start", len(unconfirmed))
        transaction.on_commit(lambda: signals.access_problem.send(Grant, grant_ids=unconfirmed))
    return len(claimed)


def _end_chunk(now: datetime) -> int:
    claimed = _claim(Grant.objects.filter(withdrawn_at__isnull=True, valid_until__lte=now))
    ids = [g for g, _ in claimed]
    failed = list(
        Grant.objects.filter(
            id__in=ids, state=GrantState.PENDING, queued_at__isnull=False
        ).values_list("id", flat=True)
    )
    _withdraw(ids, WithdrawReason.ENDED, now)
    if failed:
        transaction.on_commit(lambda: signals.access_problem.send(Grant, grant_ids=failed))
    return len(claimed)


def _republish_lagging(now: datetime) -> int:
    """Publish again to online locks still behind, and re-queue publications lost on the way."""
    before = now - settings.LOCK_REPUBLISH_AFTER
    with transaction.atomic():
        stuck = list(
            Lock.objects.select_for_update(skip_locked=True)
            .filter(publish_requested_at__lt=before)
            .order_by("id")
            .values_list("id", flat=True)[:SWEEP_CHUNK]
        )
        Lock.objects.filter(id__in=stuck).update(publish_requested_at=now)
        _enqueue_publications(stuck)
    with transaction.atomic():
        lagging = list(
            Lock.objects.select_for_update(skip_locked=True)
            .filter(
                Q(last_published_at__lt=before) | Q(last_published_at__isnull=True),
                online=True,
                publish_requested_at__isnull=True,
                applied_version__lt=F("desired_version"),
            )
            .order_by("id")
            .values_list("id", flat=True)[:SWEEP_CHUNK]
        )
        Lock.objects.filter(id__in=lagging).update(publish_requested_at=now)
        _enqueue_publications(lagging)
    if stuck or lagging:
        log.info("republishing to %d lagging locks, re-queued %d", len(lagging), len(stuck))
    return len(stuck) + len(lagging)


# --- presence ---------------------------------------------------------------------------------


def check_presence(now: datetime | None = None) -> dict[str, int]:
    """Mark offline the locks silent for three keep-alives; ask quiet ones to report (`sync`).

    A lock sends nothing while nothing changes, so a `sync` after one silent keep-alive makes
    it re-publish `reported`; only a lock that cannot answer stays silent long enough to be
    marked offline.
    """
    now = now or timezone.now()
    keepalive = timedelta(seconds=settings.LOCK_KEEPALIVE_SECONDS)
    silent = Lock.objects.filter(online=True, last_seen__lt=now - 3 * keepalive).update(
        online=False
    )
    quiet = list(
        Lock.objects.filter(online=True, last_seen__lt=now - keepalive).values_list(
            "id", flat=True
        )[:SWEEP_CHUNK]
    )
    if quiet:
        from devices.mqtt import publisher

        mqtt = publisher()
        infos = []
        for lock_id in quiet:
            message = protocol.command(
                lock_id, protocol.new_id("c-sync"), CommandOp.SYNC, now, now + COMMAND_LIFETIME
            )
            infos.append(_publish_signed(mqtt, lock_id, "cmd", message))
        mqtt.wait(infos)
    return {"offline": silent, "probed": len(quiet)}


# --- what the locks report (called by the gateway) --------------------------------------------


def record_seen(lock_ids: set[str], now: datetime) -> None:
    Lock.objects.filter(id__in=lock_ids).update(last_seen=now)


def record_statuses(statuses: dict[str, bool], now: datetime) -> None:
    """Locks online or not ({lock id: online}, the last word of each): `online` from the lock
    itself, `offline` its last will, sent by the broker. Two statements for a whole batch, as
    a fleet that reconnects at once sends thousands."""
    online = [lock_id for lock_id, is_online in statuses.items() if is_online]
    offline = [lock_id for lock_id, is_online in statuses.items() if not is_online]
    if online:
        Lock.objects.filter(id__in=online).update(online=True, last_seen=now)
    if offline:
        Lock.objects.filter(id__in=offline).update(online=False)
    for lock_id, is_online in statuses.items():
        log.info("lock %s is %s", lock_id, "online" if is_online else "offline")


def record_reported(lock_id: str, message: dict, now: datetime) -> bool:
    """Take one lock's report; see record_reports."""
    return bool(record_reports([(lock_id, message)], now))


def record_reports(reports: list[tuple[str, dict]], now: datetime) -> list[str]:
    """Take a batch of locks' reports: applied versions, and the grants each lock holds.

    A report older than one already taken (a replay, a reordering) changes nothing. A version
    above the newest the backend published (committed before it is published) is no lock's
    doing: it is ignored and raised as an alert. A pending grant a lock holds is provisioned
    (active if its slot began); a withdrawn grant missing from a version published after its
    withdrawal is revoked. A few statements for the whole batch, so the gateway keeps up with a
    boundary's worth of reports. Returns the locks updated.
    """
    versions_of = {
        lock_id: (applied, desired)
        for lock_id, applied, desired in Lock.objects.filter(
            id__in={lock_id for lock_id, _ in reports}
        ).values_list("id", "applied_version", "desired_version")
    }
    latest: dict[str, dict] = {}
    for lock_id, message in reports:
        if lock_id not in versions_of:
            continue
        applied, desired = versions_of[lock_id]
        version = message["applied_version"]
        if version > desired:
            _anomaly(
                lock_id, AnomalyKind.VERSION_AHEAD,
                f"Lock {lock_id} reported version {version}; the newest published is {desired}.",
            )  # fmt: skip
        elif version >= applied and (
            lock_id not in latest or version >= latest[lock_id]["applied_version"]
        ):
            latest[lock_id] = message
    if not latest:
        return []
    ids, versions, held, offsets, batteries, pairs = [], [], [], [], [], []
    for lock_id, message in latest.items():
        grant_ids = list(dict.fromkeys(message["grant_ids"]))
        ids.append(lock_id)
        versions.append(message["applied_version"])
        held.append(json.dumps(grant_ids))
        offsets.append(_clock_offset(message.get("clock"), now))
        batteries.append(message.get("battery"))
        pairs.extend((lock_id, grant_id) for grant_id in grant_ids)
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            "UPDATE access_grant g SET confirmed_at = %s,"
            " state = CASE WHEN g.started_at IS NULL THEN %s ELSE %s END"
            " FROM unnest(%s::text[], %s::text[]) AS r(lock_id, grant_id)"
            " WHERE g.id = r.grant_id AND g.lock_id = r.lock_id AND g.state = %s",
            [now, GrantState.PROVISIONED, GrantState.ACTIVE,
             [lock for lock, _ in pairs], [grant for _, grant in pairs], GrantState.PENDING],
        )  # fmt: skip
        cursor.execute(
            "UPDATE access_grant g SET state = %s, revoked_at = %s"
            " FROM unnest(%s::text[], %s::bigint[]) AS r(lock_id, version)"
            " WHERE g.lock_id = r.lock_id AND g.withdrawn_at IS NOT NULL"
            " AND g.revoke_version < r.version AND g.state = ANY(%s) AND NOT g.id = ANY(%s)",
            [GrantState.REVOKED, now, ids, versions, GrantState.on_lock(),
             [grant for _, grant in pairs]],
        )  # fmt: skip
        cursor.execute(
            "UPDATE access_lock l SET applied_version = r.version,"
            " reported_grant_ids = r.held::jsonb, last_seen = %s,"
            " clock_offset_seconds = COALESCE(r.clock_offset, l.clock_offset_seconds),"
            " battery = COALESCE(r.battery, l.battery)"
            " FROM unnest(%s::text[], %s::bigint[], %s::text[], %s::int[], %s::int[])"
            " AS r(lock_id, version, held, clock_offset, battery)"
            " WHERE l.id = r.lock_id AND l.applied_version <= r.version"
            " AND r.version <= l.desired_version",
            [now, ids, versions, held, offsets, batteries],
        )
    return ids


# An offset beyond this is a clock set wrong, not a drift to show (and would not fit the column).
_MAX_OFFSET = 10 * 365 * 24 * 3600


def _clock_offset(clock: str | None, now: datetime) -> int | None:
    if clock is None:
        return None
    offset = round((protocol.parse_time(clock) - now).total_seconds())
    return offset if abs(offset) <= _MAX_OFFSET else None


# A lock repeating the same anomaly adds one row a minute: a flood cannot fill the table.
_ANOMALY_EVERY = timedelta(minutes=1)


def _anomaly(lock_id: str, kind: str, detail: str, grant_id: str = "") -> None:
    """Keep, for the alerts, something a lock sent that no honest lock would."""
    log.warning("%s", detail, extra={"lock_id": lock_id, "grant_id": grant_id or None})
    recent = LockAnomaly.objects.filter(
        lock_id=lock_id, kind=kind, at__gt=timezone.now() - _ANOMALY_EVERY
    )
    if not recent.exists():
        LockAnomaly.objects.create(
            lock_id=lock_id, kind=kind, detail=detail[:300], grant_id=grant_id
        )


def record_ack(lock_id: str, message: dict, now: datetime) -> None:
    LockCommand.objects.filter(
        cmd_id=message["cmd_id"], lock_id=lock_id, acked_at__isnull=True
    ).update(
        state=CommandState.ACKED if message["ok"] else CommandState.FAILED,
        ok=message["ok"],
        error=str(message.get("error") or "")[:200],
        acked_at=now,
    )


def record_event(lock_id: str, message: dict) -> LockEvent | None:
    """Store an access-log event once; a `granted` one is queued for the check-in."""
    try:
        with transaction.atomic():
            event = LockEvent.objects.create(
                lock_id=lock_id,
                event_id=message["event_id"],
                type=message["type"],
                result=message.get("result") or message.get("state") or "",
                grant_id=message.get("grant_id") or "",
                at=protocol.parse_time(message["at"]),
                payload=message,
            )
            if event.type == "access" and event.result == "granted":
                enqueue_on_commit("locks.check_in", event.pk)
    except IntegrityError:
        return None  # a duplicate, or a lock deleted meanwhile
    return event


def check_in(event_id: int) -> bool:
    """The first `granted` event of a booking's grant checks the booking in.

    Only an event of the grant's own lock inside the grant's window (which has the grace
    minutes) counts; one outside it is no lock's honest doing and is raised as an alert.
    """
    event = LockEvent.objects.filter(pk=event_id).first()
    if event is None or not event.grant_id:
        return False
    with transaction.atomic():
        grant = Grant.objects.filter(id=event.grant_id, lock_id=event.lock_id).first()
        if grant is None:
            log.warning(
                "lock %s named grant %s, which is not one of its own",
                event.lock_id, event.grant_id, extra={"lock_id": event.lock_id},
            )  # fmt: skip
            return False
        if not grant.valid_from <= event.at < grant.valid_until:
            _anomaly(
                event.lock_id, AnomalyKind.GRANTED_OUTSIDE_WINDOW,
                f"Lock {event.lock_id} reported the code of booking {grant.booking_id} accepted "
                f"at {protocol.format_time(event.at)}, outside its window from "
                f"{protocol.format_time(grant.valid_from)} to "
                f"{protocol.format_time(grant.valid_until)}.",
                grant_id=grant.id,
            )  # fmt: skip
            return False
        booking_id = grant.booking_id
        changed = Booking.objects.filter(pk=booking_id, checked_in_at__isnull=True).update(
            checked_in_at=event.at
        )
        if changed:
            transaction.on_commit(
                lambda: signals.checked_in.send(Booking, booking_id=booking_id, at=event.at)
            )
    return bool(changed)


def restore_desired_states(states: list[tuple[str, bytes, bool]], seen: dict[str, int]) -> None:
    """Check desired states on locks' topics ([(lock id, payload, retained)], in arrival
    order); publish ours again to each lock whose state is not the backend's newest signed one
    (overwritten, erased, replayed).

    `seen` holds the highest version the caller saw on each topic, and is kept up to date. A
    `retained` state (sent because the caller subscribed) is compared with the newest published
    version too; one passed on live only with `seen`, since the caller may be reading it long
    after newer versions were published. One query for the lot: every publication comes back
    to the gateway on its topic, so a boundary brings thousands at once.
    """
    desired_of = dict(
        Lock.objects.filter(id__in={lock_id for lock_id, _, _ in states}).values_list(
            "id", "desired_version"
        )
    )
    key = protocol.load_public_key(public_key())
    wrong = []
    for lock_id, payload, retained in states:
        if lock_id not in desired_of:
            continue  # not enrolled (or removed: its topic was cleared on purpose)
        desired = desired_of[lock_id]
        newest = max(seen.get(lock_id, 0), desired) if retained else seen.get(lock_id)
        problem, version = _desired_problem(lock_id, payload, desired, newest, key)
        if problem is None:
            if version or lock_id in seen:
                seen[lock_id] = max(version or 0, seen.get(lock_id, 0))
            continue
        log.warning(
            "the desired state on lock %s's topic is %s: publishing ours again", lock_id,
            problem, extra={"lock_id": lock_id},
        )  # fmt: skip
        wrong.append(lock_id)
    request_publish(sorted(set(wrong)))


def _desired_problem(lock_id, payload, desired, newest, key) -> tuple[str | None, int | None]:
    """(what is wrong with a desired state on the lock's topic, or None; its version)."""
    try:
        message = protocol.validate_desired(protocol.decode(payload)) if payload else None
    except protocol.InvalidMessage as error:
        return f"not a desired state ({error})", None
    if message is None:
        return ("erased" if desired else None), None
    if not protocol.verify(message, key, settings.LOCK_SIGNING_KID):
        return "not signed by the backend", None
    if message["lock_id"] != lock_id:
        return f"the state of lock {message['lock_id']}", None
    if newest is not None and message["version"] < newest:
        return f"version {message['version']}, older than {newest}", None
    return None, message["version"]


def restore_missing_desired(heard: set[str]) -> list[str]:
    """Publish again to the published locks whose topic held no retained desired state when
    the gateway subscribed (`heard`: those that did), as after a broker restarted from an
    older save. Returns the locks asked for."""
    missing = [
        lock_id
        for lock_id in Lock.objects.filter(desired_version__gt=0).values_list("id", flat=True)
        if lock_id not in heard
    ]
    if missing:
        log.warning("%d locks had no retained desired state: publishing again", len(missing))
    return request_publish(missing)


# --- what a booking shows ---------------------------------------------------------------------


def grant_shown_to(booking: Booking, user) -> Grant | None:
    """The booking's grant if `user` may see its code (its owner, a manager of the venue's
    organisation, a city-wide operator); None without a lock."""
    if user is None or not (
        user.pk == booking.user_id or scoping.allows(user, booking, Role.MANAGER)
    ):
        return None
    try:
        return booking.grant
    except Grant.DoesNotExist:
        return None
