"""Redis (the broker and the cache) killed with SIGKILL and started again empty, with requests
pending and grants due: two allocations mid-transaction, the other requests in the queue, ten
locks' publications queued and their grants due across a boundary. The queues, the
"queued once" marks and the workers' unacknowledged tasks are gone; the rows are not, and the
sweepers queue again what they stand for. Nothing lost, nothing duplicated."""

from datetime import timedelta

import pytest
from django.utils import timezone

from api.access.models import Grant, Lock
from tests.conftest import wait_for
from tests.faults.conftest import (
    Clock,
    RedisServer,
    account_for_grants,
    account_for_requests,
    contended_requests,
    converged,
    decided,
    inside_allocations,
    locks_at_a_boundary,
    mailed,
    nothing_lost_or_duplicated,
    people_held,
    queue_requests,
)

pytestmark = pytest.mark.django_db(transaction=True)

LOCKS = 10


def test_redis_restarted_empty_loses_and_duplicates_nothing(stack, smtp, servers, fleet):
    sink, port = smtp()
    redis = servers(RedisServer)
    faults = stack("redis", redis_url=redis.url, EMAIL_HOST="127.0.0.1", EMAIL_PORT=str(port))
    request_ids = contended_requests()
    faults.start("gateway")
    boundary = timezone.now() + timedelta(seconds=20)
    ending, starting = locks_at_a_boundary(LOCKS, boundary, prefix=faults.namespace)
    lock_ids = [lock_id for lock_id, _ in ending]
    locks = fleet(faults, lock_ids)
    with people_held(request_ids):
        faults.start_many("beat", "worker")
        queue_requests(faults, request_ids)
        inside_allocations(faults)
        # As a sweep leaves them: the grants marked queued, each lock's publication asked for.
        now = timezone.now()
        Grant.objects.filter(lock_id__in=lock_ids).update(queued_at=now)
        Lock.objects.filter(id__in=lock_ids).update(publish_requested_at=now)
        faults.send("locks.publish", lock_ids, queue="locks")
        queued = redis.keys()
        redis.kill()
        clock = Clock()
    # The held allocations commit while Redis is down: their emails cannot be queued.
    redis.start()
    # Started without its data (nothing is saved); what reconnects first writes at once.
    keys_after_restart = redis.keys()
    wait_for(lambda: decided(request_ids), timeout=60, message="every request decided")
    requests_decided = clock.since()
    wait_for(
        lambda: converged(locks, [*ending, *starting]) or timezone.now() > boundary,
        timeout=60,
        message="the grants on their locks",
    )
    grants_on_locks = clock.since() if timezone.now() < boundary else "after the boundary"
    wait_for(lambda: mailed(request_ids, sink), timeout=90, message="every decision mailed")
    mails_sent = clock.since()
    wait_for(lambda: timezone.now() > boundary, timeout=60, message="the boundary")
    wait_for(lambda: converged(locks, starting, ending), timeout=60, message="the boundary")
    nothing_lost_or_duplicated(
        "Redis SIGKILL, restarted empty",
        {
            "requests": account_for_requests(request_ids, sink),
            "grants": account_for_grants(locks, starting, ending),
        },
        in_flight=f"2 allocations mid-transaction, {len(request_ids) - 2} requests queued, "
        f"{LOCKS} locks' publications queued ({queued} keys in Redis), grants due at a boundary",
        keys_right_after_restart=keys_after_restart,
        requests_decided_after_s=requests_decided,
        grants_on_locks_after_s=grants_on_locks,
        emails_sent_after_s=mails_sent,
        bound_by="BOOKING_REQUEUE_AFTER_SECONDS=2 + 5 s sweep; LOCK_REPUBLISH_AFTER_SECONDS=2 "
        "+ 2 s sweep; NOTIFICATION_REQUEUE_AFTER_SECONDS=1 + 30 s sweep",
    )
