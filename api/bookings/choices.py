from django.db import models


class RequestStatus(models.TextChoices):
    PENDING = "pending"
    CONFIRMED = "confirmed"
    REJECTED = "rejected"


class RejectReason(models.TextChoices):
    """Why a booking request was refused: the code the API shows, and what the worker records.

    The booking rules (api/bookings/rules.py) return these; texts.REASONS words them (in fi/sv/en through api/locale/).
    """

    SLOT_TAKEN = "slot_taken", "The slot was taken by someone else."
    QUOTA_EXCEEDED = "quota_exceeded", "You already hold the most active bookings allowed."
    SPACE_CLOSED = "space_closed", "The space is not open at that time."
    TOO_LATE = "too_late", "The slot starts too soon to be booked."
    TOO_FAR_AHEAD = "too_far_ahead", "The slot is further ahead than the space takes bookings."
    OFF_GRID = "off_grid", "The slot does not start and end on the space's slot grid."
    DURATION_NOT_ALLOWED = "duration_not_allowed", "The space does not take bookings that long."
    OVER_CAPACITY = "over_capacity", "The party is larger than the space holds."
    ACTIVITY_NOT_OFFERED = "activity_not_offered", "The space does not offer the activity."
    NO_SPACE_AVAILABLE = "no_space_available", "No space matched the request."
    WEEKLY_HOURS_EXCEEDED = (
        "weekly_hours_exceeded",
        "You would book more hours in that week than fair use allows.",
    )
    PAUSED = "paused", "Your new bookings are paused after repeated no-shows."
    LOST_DRAW = "lost_draw", "Others were drawn before you for the slot."
    SERIES_CANCELLED = "series_cancelled", "The series was cancelled before this was decided."


class BookingStatus(models.TextChoices):
    CONFIRMED = "confirmed"
    CANCELLED = "cancelled"
    COMPLETED = "completed"

    @classmethod
    def live(cls) -> list[str]:
        """Statuses that hold the space: a live booking blocks every overlapping one."""
        return [cls.CONFIRMED, cls.COMPLETED]


class WaitlistStatus(models.TextChoices):
    WAITING = "waiting"
    CONFIRMED = "confirmed"
    EXPIRED = "expired"
