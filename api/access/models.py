from django.conf import settings
from django.contrib.postgres.constraints import ExclusionConstraint
from django.contrib.postgres.fields import DateTimeRangeField, RangeOperators
from django.core.validators import RegexValidator
from django.db import models
from django.utils import timezone

from api.access.choices import (
    AnomalyKind,
    CommandOp,
    CommandState,
    GrantProblem,
    GrantState,
    WithdrawReason,
)
from api.bookings.models import Booking
from api.catalogue.models import Space
from devices import protocol

lock_id_validator = RegexValidator(
    protocol.LOCK_ID, "Letters, digits, '-' and '_' only, at most 64 characters."
)


def new_grant_id() -> str:
    return protocol.new_id("g")


def new_command_id() -> str:
    return protocol.new_id("c")


class TsTzRange(models.Func):
    function = "TSTZRANGE"
    output_field = DateTimeRangeField()


class Lock(models.Model):
    """A smart lock on a space's door, enrolled once; what it holds is what it last reported."""

    id = models.CharField(primary_key=True, max_length=64, validators=[lock_id_validator])
    space = models.OneToOneField(Space, on_delete=models.PROTECT, related_name="lock")
    # The lock's MQTT password, hashed like a user's: shown once at enrolment.
    password_hash = models.CharField(max_length=128, editable=False)
    # The password is derived from this and the backend's key (api/access/broker.py), so a new
    # broker gets every lock's account back (broker_config); re-keying changes it. Blank for a
    # lock enrolled before: its password cannot be derived and must be rotated.
    password_salt = models.CharField(max_length=32, blank=True, editable=False)
    # The version last published (from a database sequence: never reused, even by a rollback).
    desired_version = models.BigIntegerField(default=0)
    # The highest version the lock reported as applied.
    applied_version = models.BigIntegerField(default=0)
    reported_grant_ids = models.JSONField(default=list, blank=True)
    online = models.BooleanField(default=False)
    last_seen = models.DateTimeField(null=True, blank=True)
    # How far the lock's clock was ahead of ours when it last reported, in seconds.
    clock_offset_seconds = models.IntegerField(null=True, blank=True)
    battery = models.PositiveSmallIntegerField(null=True, blank=True)
    # Set when a publication is wanted and its task queued; the task clears it. While it is set
    # more triggers for the lock queue nothing more: they coalesce into that one publication.
    publish_requested_at = models.DateTimeField(null=True, blank=True)
    last_published_at = models.DateTimeField(null=True, blank=True)
    enrolled_at = models.DateTimeField(auto_now_add=True)

    organisation_path = "space__venue__organisation"

    class Meta:
        ordering = ["id"]
        indexes = [
            models.Index(
                fields=["publish_requested_at"],
                condition=models.Q(publish_requested_at__isnull=False),
                name="lock_publish_requested",
            ),
        ]

    def __str__(self):
        return self.id

    @property
    def in_sync(self) -> bool:
        return self.applied_version >= self.desired_version

    @property
    def is_online(self) -> bool:
        """Online by its last status, and heard from within three keep-alives."""
        if not self.online or self.last_seen is None:
            return False
        silence = timezone.now() - self.last_seen
        return silence.total_seconds() <= 3 * settings.LOCK_KEEPALIVE_SECONDS


class Grant(models.Model):
    """One booking's PIN on its space's lock, valid from start - grace to end + grace."""

    id = models.CharField(primary_key=True, max_length=40, default=new_grant_id, editable=False)
    lock = models.ForeignKey(Lock, on_delete=models.CASCADE, related_name="grants")
    booking = models.OneToOneField(Booking, on_delete=models.CASCADE, related_name="grant")
    # Empty once the grant is withdrawn (cancelled, ended, removed): never kept after it.
    code = models.CharField(max_length=8, blank=True)
    valid_from = models.DateTimeField()
    valid_until = models.DateTimeField()
    slot_start = models.DateTimeField()
    slot_end = models.DateTimeField()
    state = models.CharField(max_length=20, choices=GrantState.choices, default=GrantState.PENDING)
    # When the grant was first asked onto its lock (at creation inside the lead time, or by the
    # provisioning sweep); NULL means not yet.
    queued_at = models.DateTimeField(null=True, blank=True)
    # Whether a published version carried it (until then a withdrawal needs no confirmation).
    published = models.BooleanField(default=False)
    # When the start sweep handled it (active, or flagged).
    started_at = models.DateTimeField(null=True, blank=True)
    # When the backend stopped wanting it on the lock, and why.
    withdrawn_at = models.DateTimeField(null=True, blank=True)
    withdraw_reason = models.CharField(max_length=20, choices=WithdrawReason.choices, blank=True)
    # The first version published without it after its withdrawal: a report of this version or
    # a later one that lacks it confirms the revocation.
    revoke_version = models.BigIntegerField(null=True, blank=True)
    confirmed_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    # What a person should hear about (the notifications app warns on these).
    problem = models.CharField(max_length=40, choices=GrantProblem.choices, blank=True)
    flagged_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    organisation_path = "lock__space__venue__organisation"

    class Meta:
        ordering = ["valid_from", "id"]
        constraints = [
            ExclusionConstraint(
                name="grant_code_unique_while_overlapping",
                expressions=[
                    ("lock", RangeOperators.EQUAL),
                    ("code", RangeOperators.EQUAL),
                    (TsTzRange("valid_from", "valid_until"), RangeOperators.OVERLAPS),
                ],
                condition=models.Q(withdrawn_at__isnull=True),
            ),
            models.CheckConstraint(
                condition=models.Q(valid_until__gt=models.F("valid_from")),
                name="grant_window_not_empty",
            ),
            models.CheckConstraint(
                condition=models.Q(code__regex=r"^([0-9]{4,8})?$"), name="grant_code_digits"
            ),
        ]
        indexes = [
            # One index per sweep phase, each on the time that makes a row due.
            models.Index(
                fields=["valid_from"],
                condition=models.Q(queued_at__isnull=True, withdrawn_at__isnull=True),
                name="grant_to_provision",
            ),
            models.Index(
                fields=["slot_start"],
                condition=models.Q(started_at__isnull=True, withdrawn_at__isnull=True),
                name="grant_to_start",
            ),
            models.Index(
                fields=["valid_until"],
                condition=models.Q(withdrawn_at__isnull=True),
                name="grant_to_end",
            ),
            models.Index(fields=["lock", "state"]),
        ]

    def __str__(self):
        return f"{self.id} on {self.lock_id} ({self.state})"

    def as_desired(self) -> dict:
        return {
            "grant_id": self.id,
            "code": self.code,
            "valid_from": self.valid_from,
            "valid_until": self.valid_until,
        }


class LockCommand(models.Model):
    """A one-off signed command to a lock, and its acknowledgement."""

    cmd_id = models.CharField(primary_key=True, max_length=40, default=new_command_id)
    lock = models.ForeignKey(Lock, on_delete=models.CASCADE, related_name="commands")
    op = models.CharField(max_length=20, choices=CommandOp.choices)
    state = models.CharField(
        max_length=20, choices=CommandState.choices, default=CommandState.QUEUED
    )
    issued_at = models.DateTimeField()
    expires_at = models.DateTimeField()
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True
    )
    sent_at = models.DateTimeField(null=True, blank=True)
    acked_at = models.DateTimeField(null=True, blank=True)
    ok = models.BooleanField(null=True, blank=True)
    error = models.CharField(max_length=200, blank=True)

    organisation_path = "lock__space__venue__organisation"

    class Meta:
        ordering = ["-issued_at"]

    def __str__(self):
        return f"{self.op} {self.lock_id} ({self.state})"


class LockAnomaly(models.Model):
    """Something a lock sent that no honest lock would: kept for the alerts, never acted on."""

    lock = models.ForeignKey(Lock, on_delete=models.CASCADE, related_name="anomalies")
    kind = models.CharField(max_length=40, choices=AnomalyKind.choices)
    grant_id = models.CharField(max_length=64, blank=True)
    detail = models.CharField(max_length=300)
    at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-at"]
        indexes = [models.Index(fields=["at"])]

    def __str__(self):
        return f"{self.lock_id} {self.kind} {self.at:%Y-%m-%d %H:%M:%S}"


class LockEvent(models.Model):
    """The lock's access log, as it sent it; duplicates of one event_id are stored once."""

    lock = models.ForeignKey(Lock, on_delete=models.CASCADE, related_name="events")
    event_id = models.CharField(max_length=80)
    type = models.CharField(max_length=20)
    result = models.CharField(max_length=20, blank=True)
    grant_id = models.CharField(max_length=64, blank=True)
    at = models.DateTimeField()
    received_at = models.DateTimeField(auto_now_add=True)
    payload = models.JSONField()

    organisation_path = "lock__space__venue__organisation"

    class Meta:
        ordering = ["-at"]
        constraints = [models.UniqueConstraint(fields=["lock", "event_id"], name="lock_event_once")]

    def __str__(self):
        return f"{self.lock_id} {self.type} {self.result} {self.at:%Y-%m-%d %H:%M:%S}"
