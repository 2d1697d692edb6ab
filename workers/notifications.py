"""Tasks on the `notifications` queue: each sends one outbox row, found by its id.

Retries are the outbox's own (the row records the attempt and the next one is queued with a
countdown), so these tasks never raise to Celery for a failed send.
"""

from api.notifications import services
from workers import app


@app.task(
    name="notifications.send_notification",
    queue="notifications",
    acks_late=True,
    reject_on_worker_lost=True,
)
def send_notification(notification_id: int) -> str:
    return services.send_notification(notification_id)


@app.task(
    name="notifications.deliver_webhook",
    queue="notifications",
    acks_late=True,
    reject_on_worker_lost=True,
)
def deliver_webhook(delivery_id: int) -> str:
    return services.deliver_webhook(delivery_id)


@app.task(
    name="notifications.notify_access_problems",
    queue="notifications",
    acks_late=True,
    reject_on_worker_lost=True,
)
def notify_access_problems(grant_ids: list[str]) -> None:
    services.notify_access_problems(grant_ids)
