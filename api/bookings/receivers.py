"""What the bookings app does when the catalogue changes."""

from django.db.models.signals import post_delete
from django.dispatch import receiver

from api.catalogue import hours
from api.catalogue.models import Closure
from workers.queue import enqueue_on_commit


@receiver(post_delete, sender=Closure, dispatch_uid="bookings.closure_lifted")
def on_closure_lifted(sender, instance: Closure, **kwargs):
    """A lifted closure frees its hours: the waitlist is offered them, space by space."""
    venue = instance.space.venue if instance.space_id else instance.venue
    spaces = [instance.space_id] if instance.space_id else venue.spaces.values_list("id", flat=True)
    start = hours.local_instant(instance.first_date, instance.opens or 0, venue.zone)
    end = hours.local_instant(instance.last_date, instance.closes or 24 * 60, venue.zone)
    for space_id in spaces:
        enqueue_on_commit(
            "allocation.promote_waitlist", space_id, start.isoformat(), end.isoformat()
        )
