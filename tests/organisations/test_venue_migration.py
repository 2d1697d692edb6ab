"""The venues there were before organisations go to a default city organisation."""

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

BEFORE = [("catalogue", "0003_space_weekly_hours")]
AFTER = [("catalogue", "0005_venue_organisation_required")]


@pytest.fixture
def latest_schema_after():
    """Going back to BEFORE also unapplied every later migration (of any app) that depends on
    it: the rest of the session needs the whole schema back."""
    yield
    executor = MigrationExecutor(connection)
    executor.migrate(executor.loader.graph.leaf_nodes())


@pytest.mark.django_db(transaction=True)
def test_existing_venues_go_to_the_city(latest_schema_after):
    executor = MigrationExecutor(connection)
    executor.migrate(BEFORE)
    old = executor.loader.project_state(BEFORE).apps
    venue = old.get_model("catalogue", "Venue").objects.create(
        name="Kalasatama school", address="Polariksenkatu 1", district="Kalasatama",
        latitude=60.19, longitude=24.98,
    )  # fmt: skip
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(AFTER)
    new = executor.loader.project_state(AFTER).apps
    migrated = new.get_model("catalogue", "Venue").objects.get(pk=venue.pk)
    assert migrated.organisation.name == "City of Helsinki"
    assert migrated.organisation.kind == "city"
