"""catalogue_space.weekly_hours: a space's weekly opening hours as one array, kept by PostgreSQL.

Slot search reads the hours of every matching space at once; grouping 10,000 spaces' 70,000
OpeningHours rows per request costs more than the rest of the search together. The column is
derived data that only these triggers write (it is no model field, so Django never writes a
stale copy): each element is weekday * 4,000,000 + opens * 2,000 + closes, sorted
(api/catalogue/hours.py: weekly_key and from_weekly_key).
"""

from django.db import migrations

FUNCTION = """
CREATE FUNCTION catalogue_space_weekly_hours() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP IN ('INSERT', 'UPDATE') THEN
        UPDATE catalogue_space AS space SET weekly_hours = catalogue_weekly_hours_of(space.id)
        WHERE space.id IN (SELECT DISTINCT space_id FROM new_rows);
    END IF;
    IF TG_OP IN ('DELETE', 'UPDATE') THEN
        UPDATE catalogue_space AS space SET weekly_hours = catalogue_weekly_hours_of(space.id)
        WHERE space.id IN (SELECT DISTINCT space_id FROM old_rows);
    END IF;
    RETURN NULL;
END $$;

CREATE FUNCTION catalogue_weekly_hours_of(space bigint) RETURNS integer[] LANGUAGE sql STABLE AS $$
    SELECT coalesce(
        array_agg(weekday * 4000000 + opens * 2000 + closes ORDER BY weekday, opens, closes),
        '{}'
    )
    FROM catalogue_openinghours WHERE space_id = space
$$;
"""

TRIGGERS = """
CREATE TRIGGER catalogue_openinghours_inserted AFTER INSERT ON catalogue_openinghours
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION catalogue_space_weekly_hours();
CREATE TRIGGER catalogue_openinghours_updated AFTER UPDATE ON catalogue_openinghours
    REFERENCING NEW TABLE AS new_rows OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION catalogue_space_weekly_hours();
CREATE TRIGGER catalogue_openinghours_deleted AFTER DELETE ON catalogue_openinghours
    REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION catalogue_space_weekly_hours();
"""


class Migration(migrations.Migration):
    dependencies = [("catalogue", "0002_discovery")]

    operations = [
        migrations.RunSQL(
            "ALTER TABLE catalogue_space ADD COLUMN weekly_hours integer[] NOT NULL DEFAULT '{}'",
            "ALTER TABLE catalogue_space DROP COLUMN weekly_hours",
        ),
        migrations.RunSQL(
            FUNCTION + TRIGGERS + "UPDATE catalogue_space SET weekly_hours = catalogue_weekly_hours_of(id);",
            "DROP TRIGGER catalogue_openinghours_inserted ON catalogue_openinghours;"
            "DROP TRIGGER catalogue_openinghours_updated ON catalogue_openinghours;"
            "DROP TRIGGER catalogue_openinghours_deleted ON catalogue_openinghours;"
            "DROP FUNCTION catalogue_space_weekly_hours(); DROP FUNCTION catalogue_weekly_hours_of(bigint);",
        ),
    ]
