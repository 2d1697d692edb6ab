"""Two beats at once (a second deployment, a failover that left the first running): every
sweep is queued twice, and nothing happens twice. Requests saved but never queued are decided
once with one email each; grants on twenty locks are provisioned, then at a boundary revoked
and started, each once."""

from datetime import timedelta

import pytest
from django.utils import timezone

from tests.conftest import wait_for
from tests.faults.conftest import (
    Clock,
    account_for_grants,
    account_for_requests,
    contended_requests,
    converged,
    decided,
    locks_at_a_boundary,
    mailed,
    nothing_lost_or_duplicated,
)

pytestmark = pytest.mark.django_db(transaction=True)

LOCKS = 20


def test_two_beats_queue_every_sweep_twice_and_nothing_happens_twice(stack, smtp, fleet):
    sink, port = smtp()
    faults = stack("beats", EMAIL_HOST="127.0.0.1", EMAIL_PORT=str(port))
    request_ids = contended_requests()  # saved, never queued: only a sweep queues them
    faults.start_many("gateway", "worker")
    boundary = timezone.now() + timedelta(seconds=12)
    ending, starting = locks_at_a_boundary(LOCKS, boundary, prefix=faults.namespace)
    locks = fleet(faults, [lock_id for lock_id, _ in ending])
    # DEBUG: each beat logs every task it sends.
    beats = faults.start_many("beat", "beat", LOG_LEVEL="DEBUG")
    clock = Clock()
    wait_for(lambda: decided(request_ids) and mailed(request_ids, sink), timeout=60)
    requests_done = clock.since()
    wait_for(lambda: timezone.now() > boundary, timeout=30, message="the boundary")
    wait_for(lambda: converged(locks, starting, ending), timeout=60, message="the locks")
    boundary_done = (timezone.now() - boundary).total_seconds()
    sent = [beat.log_path.read_text().count("Sending due task") for beat in beats]
    assert all(count >= 3 for count in sent)  # both beats really sent the sweeps
    nothing_lost_or_duplicated(
        "two beats at once",
        {
            "requests": account_for_requests(request_ids, sink),
            "grants": account_for_grants(locks, starting, ending),
        },
        in_flight=f"{len(request_ids)} requests never queued; {LOCKS} locks with a grant "
        f"ending and one starting at a boundary",
        tasks_sent_by_each_beat=sent,
        requests_decided_and_mailed_after_s=requests_done,
        boundary_to_locks_converged_s=round(boundary_done, 2),
    )
