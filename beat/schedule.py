"""The static beat schedule. django-celery-beat's database scheduler loads these entries;
each expires after its own interval so a backlog never runs a stale sweep twice."""

SCHEDULE = {
    # Provisions, opens and revokes grants at slot boundaries; one entry, not one per slot.
    # Every 2 s: the interval is most of the delay from a boundary to the locks, and a sweep
    # with nothing due costs a few milliseconds.
    "sweep-lock-boundaries": {
        "task": "locks.sweep",
        "schedule": 2.0,
        "options": {"expires": 2},
    },
    "check-lock-presence": {
        "task": "locks.check_presence",
        "schedule": 20.0,
        "options": {"expires": 20},
    },
    "requeue-stale-booking-requests": {
        "task": "allocation.requeue_stale_requests",
        "schedule": 5.0,
        "options": {"expires": 5},
    },
    "complete-ended-bookings": {
        "task": "allocation.complete_ended_bookings",
        "schedule": 60.0,
        "options": {"expires": 60},
    },
    # Releases bookings whose code nobody used by the venue's no-show time (docs/fair-use.md).
    "release-no-shows": {
        "task": "allocation.release_no_shows",
        "schedule": 60.0,
        "options": {"expires": 60},
    },
    "expire-waitlist": {
        "task": "allocation.expire_waitlist",
        "schedule": 60.0,
        "options": {"expires": 60},
    },
    # Draws a release window soon after its collection closes.
    "draw-release-windows": {
        "task": "allocation.draw_release_windows",
        "schedule": 10.0,
        "options": {"expires": 10},
    },
    "queue-notification-reminders": {
        "task": "notifications.queue_reminders",
        "schedule": 60.0,
        "options": {"expires": 60},
    },
    "queue-access-problem-warnings": {
        "task": "notifications.queue_access_problems",
        "schedule": 60.0,
        "options": {"expires": 60},
    },
    # Bookings past RETENTION_MONTHS lose their person; hourly is plenty for months.
    "privacy-retention-sweep": {
        "task": "privacy.retention_sweep",
        "schedule": 3600.0,
        "options": {"expires": 3600},
    },
    "requeue-stuck-notifications": {
        "task": "notifications.requeue_stuck",
        "schedule": 30.0,
        "options": {"expires": 30},
    },
}
