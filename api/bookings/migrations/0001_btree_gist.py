from django.contrib.postgres.operations import BtreeGistExtension
from django.db import migrations


class Migration(migrations.Migration):
    # The exclusion constraint on bookings compares the space id with `=` inside a GiST index.
    dependencies = []
    operations = [BtreeGistExtension()]
