"""The sweeps beat runs: small, safe to run twice, each finding due rows by an indexed time."""

from api.bookings import services
from workers import app


@app.task(name="allocation.requeue_stale_requests", queue="allocation", expires=10)
def requeue_stale_requests() -> int:
    return services.requeue_stale_requests()


@app.task(name="allocation.complete_ended_bookings", queue="allocation", expires=60)
def complete_ended_bookings() -> int:
    return services.complete_ended_bookings()
