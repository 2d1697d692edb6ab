"""What a space says for a frontend: whether it has a lock, its venue's name and district."""

import pytest

from api.access import services
from tests.factories import SpaceFactory

pytestmark = pytest.mark.django_db


def test_a_space_says_whether_it_has_a_lock(anonymous):
    locked, open_ = SpaceFactory(), SpaceFactory()
    services.enrol_lock("frontend-lock-1", locked)
    body = anonymous.get("/api/v1/spaces/").json()["results"]
    assert {s["id"]: s["has_lock"] for s in body} == {locked.id: True, open_.id: False}
    detail = anonymous.get(f"/api/v1/spaces/{locked.id}/").json()
    assert (detail["has_lock"], detail["venue_name"], detail["district"]) == (
        True,
        locked.venue.name,
        locked.venue.district,
    )


def test_listing_spaces_costs_the_same_queries_with_or_without_locks(
    anonymous, django_assert_max_num_queries
):
    for number in range(3):
        services.enrol_lock(f"frontend-lock-q{number}", SpaceFactory())
    SpaceFactory()
    # The count, the page, and the prefetches of activities and opening hours.
    with django_assert_max_num_queries(4):
        assert anonymous.get("/api/v1/spaces/").status_code == 200
