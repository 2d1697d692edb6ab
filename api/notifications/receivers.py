"""What the notifications app does when the access app reports something."""

from django.db import transaction
from django.dispatch import receiver

from api.access import alerts, signals
from api.bookings.models import Booking
from api.notifications import services
from workers.queue import enqueue

# Grants per warning task: a boundary may flag thousands at once.
ACCESS_PROBLEM_CHUNK = 500


@receiver(signals.access_problem, dispatch_uid="notifications.access_problem")
def on_access_problem(sender, grant_ids, **kwargs):
    # Warned from the notifications queue, not in the lock sweep that found them: at a boundary
    # of 10,000 unconfirmed grants the warnings held the sweep, and with it every revocation,
    # for 44 s. A task lost on the way is found again by queue_access_problems.
    grant_ids = [str(grant_id) for grant_id in grant_ids]
    for start in range(0, len(grant_ids), ACCESS_PROBLEM_CHUNK):
        enqueue(
            "notifications.notify_access_problems", grant_ids[start : start + ACCESS_PROBLEM_CHUNK]
        )


@receiver(signals.checked_in, dispatch_uid="notifications.checked_in")
def on_checked_in(sender, booking_id, **kwargs):
    booking = Booking.objects.select_related("space").filter(pk=booking_id).first()
    if booking is not None:
        with transaction.atomic():
            services.booking_checked_in(booking)


alerts.source(services.failed_notifications)
