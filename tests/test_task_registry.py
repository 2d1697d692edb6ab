"""Task names are part of the queue contract: messages already queued name them."""

import pytest

from workers import app

PINNED = {
    "allocation.allocate": "allocation",
    "allocation.requeue_stale_requests": "allocation",
    "allocation.complete_ended_bookings": "allocation",
    "allocation.allocate_series": "allocation",
    "allocation.promote_waitlist": "allocation",
    "allocation.release_no_shows": "allocation",
    "allocation.expire_waitlist": "allocation",
    "allocation.draw_release_windows": "allocation",
}


@pytest.mark.parametrize(("name", "queue"), PINNED.items())
def test_task_names_and_queues_are_pinned(name, queue):
    app.loader.import_default_modules()
    assert name in app.tasks
    task = app.tasks[name]
    assert task.queue == queue
    assert app.amqp.router.route({}, name)["queue"].name == queue


def test_every_project_task_is_on_a_declared_queue():
    app.loader.import_default_modules()
    ours = [name for name in app.tasks if not name.startswith("celery.")]
    for name in ours:
        assert app.amqp.router.route({}, name)["queue"].name in {
            "allocation",
            "locks",
            "notifications",
        }, name


def test_allocation_is_acknowledged_late_and_requeued_on_worker_loss():
    app.loader.import_default_modules()
    task = app.tasks["allocation.allocate"]
    assert task.acks_late is True
    assert task.reject_on_worker_lost is True


def test_every_beat_entry_names_a_registered_task():
    app.loader.import_default_modules()
    for entry in app.conf.beat_schedule.values():
        assert entry["task"] in app.tasks
        assert entry["options"]["expires"] <= entry["schedule"]
