from django.db import models


class RequestStatus(models.TextChoices):
    PENDING = "pending"
    CONFIRMED = "confirmed"
    REJECTED = "rejected"


class RejectReason(models.TextChoices):
    SLOT_TAKEN = "slot_taken", "The slot was taken by someone else."
    QUOTA_EXCEEDED = "quota_exceeded", "You already hold the most active bookings allowed."
    SPACE_CLOSED = "space_closed", "The space is not open at that time."
    TOO_LATE = "too_late", "The slot starts too soon to be booked."


class BookingStatus(models.TextChoices):
    CONFIRMED = "confirmed"
    CANCELLED = "cancelled"
    COMPLETED = "completed"

    @classmethod
    def live(cls) -> list[str]:
        """Statuses that hold the space: a live booking blocks every overlapping one."""
        return [cls.CONFIRMED, cls.COMPLETED]
