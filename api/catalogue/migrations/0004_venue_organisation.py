"""Venues belong to organisations. The venues there are already were the city's: they go to a
default city organisation, which the city renames or splits up afterwards."""

import django.db.models.deletion
from django.db import migrations, models

DEFAULT = {"name": "City of Helsinki", "kind": "city"}


def assign_to_the_city(apps, schema_editor):
    Venue = apps.get_model("catalogue", "Venue")
    if not Venue.objects.exists():
        return
    Organisation = apps.get_model("organisations", "Organisation")
    city, _ = Organisation.objects.get_or_create(name=DEFAULT["name"], defaults=DEFAULT)
    Venue.objects.filter(organisation__isnull=True).update(organisation=city)


class Migration(migrations.Migration):
    dependencies = [
        ("catalogue", "0003_space_weekly_hours"),
        ("organisations", "0001_initial"),
    ]

    operations = [
        migrations.AddField(
            model_name="venue",
            name="organisation",
            field=models.ForeignKey(
                null=True,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="venues",
                to="organisations.organisation",
            ),
        ),
        migrations.RunPython(assign_to_the_city, migrations.RunPython.noop),
    ]
