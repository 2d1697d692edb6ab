"""The sweeps beat runs: small, safe to run twice, each finding due rows by an indexed time."""

from api.access import services as access
from api.bookings import no_shows, release, services, waitlist
from api.notifications import services as notifications
from api.privacy import services as privacy
from workers import app


@app.task(name="allocation.requeue_stale_requests", queue="allocation", expires=5)
def requeue_stale_requests() -> int:
    return services.requeue_stale_requests()


@app.task(name="allocation.complete_ended_bookings", queue="allocation", expires=60)
def complete_ended_bookings() -> int:
    return services.complete_ended_bookings()


@app.task(name="allocation.release_no_shows", queue="allocation", expires=60)
def release_no_shows() -> int:
    return no_shows.release_no_shows()


@app.task(name="allocation.expire_waitlist", queue="allocation", expires=60)
def expire_waitlist() -> int:
    return waitlist.expire()


@app.task(name="allocation.draw_release_windows", queue="allocation", expires=10)
def draw_release_windows() -> int:
    return release.draw_closed_windows()


@app.task(name="notifications.queue_reminders", queue="notifications", expires=60)
def queue_reminders() -> int:
    return notifications.queue_reminders()


@app.task(name="notifications.queue_access_problems", queue="notifications", expires=60)
def queue_access_problems() -> int:
    return notifications.queue_access_problems()


@app.task(name="notifications.requeue_stuck", queue="notifications", expires=30)
def requeue_stuck_notifications() -> int:
    return notifications.requeue_stuck()


@app.task(name="locks.sweep", queue="locks", expires=2)
def sweep_lock_boundaries() -> dict[str, int]:
    return access.sweep()


@app.task(name="locks.check_presence", queue="locks", expires=20)
def check_lock_presence() -> dict[str, int]:
    return access.check_presence()


@app.task(name="privacy.retention_sweep", queue="allocation", expires=3600)
def retention_sweep() -> int:
    return privacy.retention_sweep()
