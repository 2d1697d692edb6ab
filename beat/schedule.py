"""The static beat schedule. django-celery-beat's database scheduler loads these entries;
each expires after its own interval so a backlog never runs a stale sweep twice."""

SCHEDULE = {
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
}
