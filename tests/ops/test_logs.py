"""Logs are JSON lines that carry the ids of what they are about; idle sweeps stay at DEBUG."""

import io
import json
import logging
import logging.config

import pytest
from celery.signals import task_postrun, task_prerun
from django.conf import settings
from django.utils import timezone

from api import logs
from api.access.choices import GrantState
from api.access.models import Grant, Lock
from api.bookings import services as bookings
from api.bookings.models import BookingRequest
from beat.tasks import sweep_lock_boundaries
from tests.access.conftest import enrol, fleet, gateway, join  # noqa: F401  (fixtures)
from tests.conftest import wait_for
from tests.factories import BookingRequestFactory, SpaceFactory, next_slot
from workers.logs import did_nothing


@pytest.fixture
def json_lines():
    """The settings' own LOGGING, writing into a buffer; yields a reader of the lines so far."""
    stream = io.StringIO()
    config = {**settings.LOGGING, "handlers": {**settings.LOGGING["handlers"]}}
    config["handlers"]["console"] = {**config["handlers"]["console"], "stream": stream}
    logging.config.dictConfig(config)
    yield lambda: [json.loads(line) for line in stream.getvalue().splitlines()]
    logging.config.dictConfig(settings.LOGGING)


def test_a_line_is_one_json_object_with_its_time_level_logger_and_fields(json_lines):
    logging.getLogger("flexispace.test").warning(
        "lock %s is offline", "door-1", extra={"lock_id": "door-1"}
    )
    (line,) = json_lines()
    assert line["level"] == "WARNING"
    assert line["logger"] == "flexispace.test"
    assert line["message"] == "lock door-1 is offline"
    assert line["lock_id"] == "door-1"
    assert line["time"].endswith("Z")


def test_bound_ids_are_on_every_line_until_unbound_and_extra_wins(json_lines):
    log = logging.getLogger("flexispace.test")
    token = logs.bind(request_id="r-1", task="allocation.allocate")
    log.info("deciding")
    log.info("about another", extra={"request_id": "r-2"})
    logs.unbind(token)
    log.info("after")
    first, second, after = json_lines()
    assert first["request_id"] == "r-1" and first["task"] == "allocation.allocate"
    assert second["request_id"] == "r-2"
    assert "request_id" not in after


def test_an_exception_stays_on_its_one_line(json_lines):
    try:
        raise ValueError("no such lock")
    except ValueError:
        logging.getLogger("flexispace.test").exception("publishing failed")
    (line,) = json_lines()
    assert "ValueError: no such lock" in line["exc_info"]


def test_beats_announcement_of_each_due_task_is_debug(json_lines):
    logging.getLogger("celery.beat").info(
        "Scheduler: Sending due task %s (%s)", "sweep-lock-boundaries", "locks.sweep"
    )
    logging.getLogger("celery.beat").info("beat: Starting...")
    assert [line["message"] for line in json_lines()] == ["beat: Starting..."]


def test_a_sweep_that_did_nothing_logs_at_debug_and_one_that_did_at_info(caplog):
    sweep = sweep_lock_boundaries
    idle = {"provisioned": 0, "started": 0, "ended": 0, "republished": 0}
    with caplog.at_level(logging.DEBUG, logger="workers.tasks"):
        for task_id, result in (("t-idle", idle), ("t-busy", {**idle, "ended": 3})):
            task_prerun.send(sender=sweep, task_id=task_id, task=sweep, args=(), kwargs={})
            task_postrun.send(
                sender=sweep, task_id=task_id, task=sweep, retval=result, state="SUCCESS"
            )
    quiet, busy = [r for r in caplog.records if r.name == "workers.tasks"]
    assert (quiet.levelno, quiet.getMessage(), quiet.result) == (
        logging.DEBUG, "locks.sweep success", idle
    )  # fmt: skip
    assert (busy.levelno, busy.result["ended"]) == (logging.INFO, 3)


def test_only_a_result_that_counts_nothing_is_idle():
    assert did_nothing({"provisioned": 0, "started": 0}) and did_nothing(0)
    assert not did_nothing({"provisioned": 0, "ended": 3}) and not did_nothing(2)


@pytest.mark.django_db(transaction=True)
def test_the_workers_lines_about_a_decision_are_json_and_carry_its_ids(celery_worker, as_owner):
    log_path = celery_worker.log_path
    start = log_path.stat().st_size
    space = SpaceFactory()
    begin, end = next_slot()
    response = as_owner.post(
        "/api/v1/booking-requests/",
        {"space": space.pk, "start": begin.isoformat(), "end": end.isoformat(), "party_size": 2},
        format="json",
    )
    request_id = response.json()["id"]

    def lines():
        with log_path.open() as log:
            log.seek(start)
            return [json.loads(line) for line in log.read().splitlines()]

    def decided():
        return [line for line in lines() if line.get("message") == "booking request confirmed"]

    (decision,) = wait_for(decided, message="the decision in the worker's log")
    booking_request = BookingRequest.objects.get(pk=request_id)
    assert decision["request_id"] == request_id
    assert decision["booking_id"] == booking_request.booking.pk
    assert decision["space_id"] == space.pk
    assert decision["task"] == "allocation.allocate" and decision["task_id"]
    task_line = wait_for(
        lambda: [line for line in lines() if line["message"] == "allocation.allocate success"],
        message="the task's line",
    )
    assert task_line[0]["request_id"] == request_id
    assert task_line[0]["duration_ms"] >= 0


@pytest.mark.django_db(transaction=True)
def test_the_gateways_line_for_a_code_used_carries_the_lock_and_grant_ids(
    gateway,  # noqa: F811
    fleet,  # noqa: F811
    owner,
):
    lock = enrol(SpaceFactory())
    join(fleet, lock)
    wait_for(lambda: Lock.objects.get(pk=lock.pk).online, message="the lock online")
    start, end = next_slot()
    request = BookingRequestFactory(space=lock.space, user=owner, start=start, end=end)
    bookings.allocate(request.id)
    grant = Grant.objects.get(booking__request=request)
    wait_for(
        lambda: Grant.objects.filter(pk=grant.pk, state=GrantState.PROVISIONED).exists(),
        message="the grant on the lock",
    )
    # The lock's clock moved into the window: the code opens the door.
    fleet.set(lock.id, skew=(grant.valid_from - timezone.now()).total_seconds() + 30)
    assert fleet.try_code(lock.id, grant.code)["result"] == "granted"

    def event_lines():
        return [
            line
            for line in map(json.loads, gateway.log_path.read_text().splitlines())
            if line.get("grant_id") == grant.id
        ]

    (line,) = wait_for(event_lines, message="the gateway's line about the code")
    assert line["lock_id"] == lock.id
    assert line["message"] == f"lock {lock.id}: access granted (grant {grant.id})"
