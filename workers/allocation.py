"""Tasks on the `allocation` queue."""

from datetime import datetime

from django.db import InterfaceError, OperationalError

from api.bookings import series, services, waitlist
from workers import app

# Deciding: acknowledged late, requeued if the worker dies, and a dropped database connection
# is worth another try; a bad request is not.
DECIDING = {
    "queue": "allocation",
    "acks_late": True,
    "reject_on_worker_lost": True,
    "autoretry_for": (InterfaceError, OperationalError),
    "retry_backoff": True,
    "max_retries": 5,
}


@app.task(name="allocation.allocate", **DECIDING)
def allocate(request_id: str) -> None:
    services.allocate(request_id)


@app.task(name="allocation.allocate_series", **DECIDING)
def allocate_series(series_id: str) -> None:
    series.allocate_series(series_id)


@app.task(name="allocation.promote_waitlist", **DECIDING)
def promote_waitlist(space_id: int, start: str, end: str) -> int:
    return waitlist.promote(space_id, datetime.fromisoformat(start), datetime.fromisoformat(end))
