"""A venue's organisation is required, now that every venue has one (0004; a migration of its
own, so that the rows 0004 wrote are settled before the column changes)."""

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("catalogue", "0004_venue_organisation")]

    operations = [
        migrations.AlterField(
            model_name="venue",
            name="organisation",
            field=models.ForeignKey(
                on_delete=django.db.models.deletion.PROTECT,
                related_name="venues",
                to="organisations.organisation",
            ),
        ),
    ]
