"""/metrics after a booking and a lock event shows every named metric with a plausible value;
the worker serves what its pool processes counted; the alert rules and the dashboard name only
metrics that exist."""

import json
import re
import urllib.request
from datetime import timedelta
from pathlib import Path

import pytest
import yaml
from prometheus_client import REGISTRY
from prometheus_client.parser import text_string_to_metric_families

from api.access.choices import GrantState
from api.access.models import Grant, Lock
from api.bookings.models import BookingRequest
from api.ops.metrics import StateCollector
from devices import metrics as gateway_metrics  # noqa: F401  (the gateway's, for their names)
from tests.access.conftest import enrol, fleet, gateway, join  # noqa: F401  (fixtures)
from tests.conftest import wait_for
from tests.factories import SpaceFactory, next_slot

MONITORING = Path(__file__).resolve().parent.parent.parent / "docs" / "monitoring"


def samples(text: str) -> dict[tuple[str, tuple], float]:
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def value(found, name, **labels):
    key = (name, tuple(sorted(labels.items())))
    assert key in found, f"{name}{labels or ''} is not exported"
    return found[key]


def scrape(url: str) -> dict:
    with urllib.request.urlopen(url, timeout=10) as response:
        return samples(response.read().decode())


@pytest.mark.django_db(transaction=True)
def test_after_a_booking_and_a_lock_event_every_metric_is_there(
    celery_worker,
    gateway,  # noqa: F811
    fleet,  # noqa: F811
    as_owner,
    anonymous,
):
    lock = enrol(SpaceFactory())
    join(fleet, lock)  # the lock's `online` status is its first event
    wait_for(lambda: Lock.objects.get(pk=lock.pk).online, message="the lock online")
    start, end = next_slot()
    response = as_owner.post(
        "/api/v1/booking-requests/",
        {
            "space": lock.space_id,
            "start": start.isoformat(),
            "end": end.isoformat(),
            "party_size": 2,
        },
        format="json",
    )
    assert response.status_code == 202
    wait_for(
        lambda: Grant.objects.filter(lock=lock, state=GrantState.PROVISIONED).exists(),
        message="the grant on the lock",
    )

    response = anonymous.get("/metrics")
    assert response.status_code == 200
    found = samples(response.content.decode())
    assert value(found, "flexispace_state_up", source="database") == 1
    assert value(found, "flexispace_state_up", source="redis") == 1
    for queue in ("allocation", "locks", "notifications"):
        assert value(found, "flexispace_queue_depth", queue=queue) >= 0
    assert value(found, "flexispace_booking_requests_pending") == 0
    assert value(found, "flexispace_booking_request_oldest_pending_seconds") == 0
    assert value(found, "flexispace_grants", state="provisioned") == 1
    assert value(found, "flexispace_grants", state="pending") == 0
    assert value(found, "flexispace_grant_revocations_unconfirmed") == 0
    assert value(found, "flexispace_lock_boundary_lag_seconds") == 0
    assert value(found, "flexispace_locks", presence="online") == 1
    assert value(found, "flexispace_locks", presence="offline") == 0
    assert value(found, "flexispace_locks_offline_with_grants_soon") == 0
    assert value(found, "flexispace_locks_behind") == 0
    assert value(found, "flexispace_lock_sync_lag_seconds") == 0
    assert value(found, "flexispace_notifications", state="failed") == 0
    assert value(found, "flexispace_notifications", state="pending") >= 0
    # django-prometheus: the booking request itself.
    assert value(found, "django_http_requests_total_by_method_total", method="POST") >= 1

    # The decision was made in one of the worker's pool processes, and counted there.
    worker = scrape(celery_worker.metrics_url)
    assert value(worker, "flexispace_booking_decisions_total", outcome="confirmed") >= 1
    assert value(worker, "flexispace_tasks_total", task="allocation.allocate", state="SUCCESS") >= 1
    assert value(worker, "flexispace_tasks_total", task="locks.publish", state="SUCCESS") >= 1
    assert value(worker, "flexispace_task_duration_seconds_count", task="allocation.allocate") >= 1

    # The lock's status and report reached the gateway, which counted them.
    recorded = scrape(gateway.metrics_url)
    assert (
        value(recorded, "flexispace_gateway_messages_total", kind="status", outcome="recorded") >= 1
    )
    assert (
        value(recorded, "flexispace_gateway_messages_total", kind="reported", outcome="recorded")
        >= 1
    )
    assert value(recorded, "flexispace_gateway_batch_duration_seconds_count") >= 1
    assert value(recorded, "flexispace_gateway_inbox") >= 0


@pytest.mark.django_db
def test_a_pending_request_shows_its_age(owner, anonymous):
    start, end = next_slot()
    request = BookingRequest.objects.create(
        user=owner, space=SpaceFactory(), start=start, end=end, party_size=2
    )
    BookingRequest.objects.filter(pk=request.pk).update(
        created_at=request.created_at - timedelta(minutes=5)
    )
    found = samples(anonymous.get("/metrics").content.decode())
    assert value(found, "flexispace_booking_requests_pending") == 1
    assert 295 < value(found, "flexispace_booking_request_oldest_pending_seconds") < 400


@pytest.mark.django_db
def test_with_a_token_only_the_bearer_gets_the_metrics(anonymous, settings):
    settings.METRICS_TOKEN = "s3cret-token"
    assert anonymous.get("/metrics").status_code == 401
    assert anonymous.get("/metrics", HTTP_AUTHORIZATION="Bearer wrong").status_code == 401
    response = anonymous.get("/metrics", HTTP_AUTHORIZATION="Bearer s3cret-token")
    assert response.status_code == 200


@pytest.mark.django_db
def test_a_source_that_cannot_be_read_is_reported_not_raised(monkeypatch, anonymous):
    def broken(self, now):
        raise ConnectionError("Redis is gone")

    monkeypatch.setattr(StateCollector, "queues", broken)
    response = anonymous.get("/metrics")
    assert response.status_code == 200
    found = samples(response.content.decode())
    assert value(found, "flexispace_state_up", source="redis") == 0
    assert value(found, "flexispace_state_up", source="database") == 1


def exported_names() -> set[str]:
    """Every metric of every process (each module defines its own) and of the state."""
    suffixes = {"counter": ["_total"], "histogram": ["_bucket", "_sum", "_count"]}
    names = set()
    for family in [*REGISTRY.collect(), *StateCollector().collect()]:
        # A labelled metric has no sample until first used: its names follow from its type.
        names.add(family.name)
        names.update(family.name + suffix for suffix in suffixes.get(family.type, []))
    return names


@pytest.mark.django_db
def test_the_alert_rules_and_the_dashboard_name_only_exported_metrics():
    names = exported_names()
    rules = yaml.safe_load((MONITORING / "alerts.yml").read_text())
    expressions = [rule["expr"] for group in rules["groups"] for rule in group["rules"]]
    dashboard = json.loads((MONITORING / "grafana-dashboard.json").read_text())
    expressions += [
        target["expr"] for panel in dashboard["panels"] for target in panel.get("targets", [])
    ]
    used = {
        name for expr in expressions for name in re.findall(r"\b(?:flexispace|django)_\w+", expr)
    }
    assert used, "no metric named"
    assert used <= names, f"not exported: {sorted(used - names)}"
    alerting = {rule["alert"] for group in rules["groups"] for rule in group["rules"]}
    assert {
        "LockOfflineWithGrantsSoon", "RevocationUnconfirmedAfterEnd", "BookingQueueTooOld",
        "NotificationsFailed",
    } <= alerting  # fmt: skip
