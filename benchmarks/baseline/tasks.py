"""The baseline tasks, on the same queues as the work they stand in for.

`insert_row`: one ORM insert, against `allocation.allocate`. `revoke_grant`: the design the
project rejects for slot boundaries, one clocked task per slot end, calling the same withdraw
and publish code as the sweep does for a chunk.
"""

from datetime import datetime

from django.db import transaction
from django.utils import timezone

from benchmarks.baseline.models import Row
from workers import app


@app.task(name="allocation.bench_insert_row", queue="allocation", acks_late=True)
def insert_row(sent_at: str) -> None:
    now = timezone.now()
    Row.objects.create(
        space=0, start=now, end=now, party_size=1, sent_at=datetime.fromisoformat(sent_at)
    )


@app.task(name="locks.bench_revoke_grant", queue="locks", acks_late=True)
def revoke_grant(grant_id: str) -> None:
    from api.access import services
    from api.access.choices import WithdrawReason
    from api.access.models import Grant

    with transaction.atomic():
        grant = (
            Grant.objects.select_for_update().filter(id=grant_id, withdrawn_at__isnull=True).first()
        )
        if grant is not None:
            services._withdraw([grant.id], WithdrawReason.ENDED, timezone.now())
