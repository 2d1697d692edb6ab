from django.db import models


class GrantState(models.TextChoices):
    """Where a grant stands; the backend moves it only on what the lock reported.

    pending → provisioned (the lock reported a version that carries it) → active (its slot
    began) → revoked (the lock reported a version without it). `failed` when its window ended
    and the lock never confirmed it.
    """

    PENDING = "pending"
    PROVISIONED = "provisioned"
    ACTIVE = "active"
    REVOKED = "revoked"
    FAILED = "failed"

    @classmethod
    def transitions(cls) -> dict[str, set[str]]:
        return {
            cls.PENDING: {cls.PROVISIONED, cls.ACTIVE, cls.REVOKED, cls.FAILED},
            cls.PROVISIONED: {cls.ACTIVE, cls.REVOKED},
            cls.ACTIVE: {cls.REVOKED},
            cls.REVOKED: set(),
            cls.FAILED: {cls.REVOKED},
        }

    @classmethod
    def on_lock(cls) -> list[str]:
        """States in which the grant may be held by the lock, so a revocation must be confirmed."""
        return [cls.PENDING, cls.PROVISIONED, cls.ACTIVE, cls.FAILED]


class GrantProblem(models.TextChoices):
    """Why a grant needs a person; the notifications app warns about these."""

    UNCONFIRMED_AT_START = (
        "unconfirmed_at_start",
        "The lock had not confirmed the code at the start.",
    )
    NEVER_CONFIRMED = (
        "never_confirmed",
        "The lock never confirmed the code before its window ended.",
    )


class WithdrawReason(models.TextChoices):
    CANCELLED = "cancelled"
    ENDED = "ended"
    # Released early: nobody used the code in time (api/bookings/no_shows.py).
    NO_SHOW = "no_show"


class CommandOp(models.TextChoices):
    UNLOCK_ONCE = "unlock_once"
    SYNC = "sync"


class CommandState(models.TextChoices):
    QUEUED = "queued"
    SENT = "sent"
    ACKED = "acked"
    FAILED = "failed"


class AnomalyKind(models.TextChoices):
    """What a lock reported that the backend ignored and raised as an alert."""

    VERSION_AHEAD = (
        "version_ahead",
        "The lock reported a version above any the backend published.",
    )
    GRANTED_OUTSIDE_WINDOW = (
        "granted_outside_window",
        "The lock reported a code accepted outside its window.",
    )
