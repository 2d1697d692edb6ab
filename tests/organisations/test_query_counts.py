"""An organisation's lists cost the same number of queries however many rows they show."""

from datetime import timedelta

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext

from api.access import services as access
from tests.conftest import client_for
from tests.factories import BookingFactory, MembershipFactory, SpaceFactory, next_slot
from tests.settings import RUN

pytestmark = pytest.mark.django_db


def queries_for_bookings(count: int) -> int:
    space = SpaceFactory()
    access.enrol_lock(f"{RUN}-count-{count}", space)
    for n in range(count):
        with transaction.atomic():
            access.create_grant(
                BookingFactory(space=space, start=next_slot()[0] + timedelta(days=n))
            )
    manager = client_for(
        MembershipFactory(organisation=space.venue.organisation, role="manager").user
    )
    with CaptureQueriesContext(connection) as queries:
        answer = manager.get("/api/v1/bookings/", {"space": space.pk})
    assert answer.json()["count"] == count
    return len(queries)


def test_a_managers_booking_list_costs_the_same_for_one_booking_as_for_five():
    assert queries_for_bookings(1) == queries_for_bookings(5)
