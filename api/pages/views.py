"""The reference frontend's pages: server-rendered shells in the request's language whose
scripts (static/pages/) use only the public HTTP API, like any other client of it."""

from django.conf import settings
from django.shortcuts import render
from django.utils.translation import gettext_lazy as _

# What the scripts write, translated here with the rest of the page (given as JSON).
COMMON_TEXTS = {
    "signed_in_as": _("Signed in as"),
    "door_code": _("Door code"),
    "access_pending": _("not yet on the lock"),
    "access_provisioned": _("on the lock"),
    "access_active": _("in use"),
    "access_revoked": _("withdrawn"),
    "access_failed": _("could not be put on the lock"),
}

CITIZEN_TEXTS = {
    **COMMON_TEXTS,
    "no_location": _("Your location is not available."),
    "best_first": _(
        "Best first: the smallest space that fits, then the nearest, then the earliest."
    ),
    "nothing_free": _("Nothing is free then. Try another day, time or area."),
    "up_to": _("up to"),
    "door_code_lock": _("door code"),
    "book": _("Book"),
    "log_in_first": _("Register or log in to book."),
    "deciding": _("Your request is being decided…"),
    "rejected": _("Sorry, that could not be booked."),
    "confirmed": _("Confirmed."),
    "status_cancelled": _("Cancelled"),
    "status_completed": _("Completed"),
    "add_to_calendar": _("Add to calendar (.ics)"),
    "cancel": _("Cancel booking"),
    "cancel_confirm": _("Cancel this booking?"),
    "cancelled": _("The booking is cancelled and its door code no longer opens the door."),
    "no_bookings": _("No bookings ahead."),
}

OPERATOR_TEXTS = {
    **COMMON_TEXTS,
    "not_operator": _("This page is for operators."),
    "no_bookings": _("No bookings."),
    "online": _("online"),
    "offline": _("offline"),
    "in_sync": _("in sync"),
    "not_in_sync": _("not in sync"),
    "checked_in": _("checked in"),
    "not_checked_in": _("not checked in"),
    "no_lock": _("no lock"),
    "unlock": _("Unlock once"),
    "unlock_sent": _("Unlock sent to the lock."),
    "no_alerts": _("No alerts."),
}


def _page(request, template, texts):
    context = {"city_zone": settings.TIME_ZONE, "texts": {k: str(v) for k, v in texts.items()}}
    return render(request, template, context)


def citizen(request):
    """Find a space by activity, book it, see its door code; one's bookings."""
    return _page(request, "pages/citizen.html", CITIZEN_TEXTS)


def operator(request):
    """Today's and tomorrow's bookings per venue, the locks, the alerts, unlock once."""
    return _page(request, "pages/operator.html", OPERATOR_TEXTS)
