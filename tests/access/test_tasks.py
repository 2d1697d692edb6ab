"""Task names and queues are part of the deployment: pinned here."""

from beat.schedule import SCHEDULE
from workers import app

LOCK_TASKS = {
    "locks.publish",
    "locks.send_command",
    "locks.check_in",
    "locks.sweep",
    "locks.check_presence",
}


def test_lock_tasks_have_stable_names_on_the_locks_queue():
    app.loader.import_default_modules()
    for name in LOCK_TASKS:
        task = app.tasks[name]
        assert task.queue == "locks", name
        assert app.amqp.router.route({}, name)["queue"].name == "locks", name


def test_beat_runs_a_few_static_lock_entries_that_expire_with_their_interval():
    entries = {key: entry for key, entry in SCHEDULE.items() if entry["task"].startswith("locks.")}
    assert {entry["task"] for entry in entries.values()} == {"locks.sweep", "locks.check_presence"}
    sweep = next(entry for entry in entries.values() if entry["task"] == "locks.sweep")
    assert sweep["schedule"] <= 10
    for entry in entries.values():
        assert entry["options"]["expires"] <= entry["schedule"]
