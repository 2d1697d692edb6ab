"""What the booking verbs count, for the workers' metrics endpoint (docs/operations.md)."""

from prometheus_client import Counter

DECISIONS = Counter(
    "flexispace_booking_decisions",
    "Booking requests decided, by outcome: confirmed, or the reason for the rejection.",
    ["outcome"],
)
