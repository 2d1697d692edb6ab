"""What the notifications app does when the access app reports something."""

from django.db import transaction
from django.dispatch import receiver

from api.access import alerts, signals
from api.access.models import Grant
from api.bookings.models import Booking
from api.notifications import services


@receiver(signals.access_problem, dispatch_uid="notifications.access_problem")
def on_access_problem(sender, grant_ids, **kwargs):
    grants = Grant.objects.filter(id__in=grant_ids).select_related(
        "booking__user", "booking__space__venue"
    )
    for grant in grants:
        with transaction.atomic():
            services.notify_access_problem(grant.booking, grant.problem or "unconfirmed")


@receiver(signals.checked_in, dispatch_uid="notifications.checked_in")
def on_checked_in(sender, booking_id, **kwargs):
    booking = Booking.objects.select_related("space").filter(pk=booking_id).first()
    if booking is not None:
        with transaction.atomic():
            services.booking_checked_in(booking)


alerts.source(services.failed_notifications)
