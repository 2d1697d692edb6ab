from django.contrib import admin
from django.db import models

from api.catalogue.models import Activity, Closure, ExtraOpening, OpeningHours, Space, Venue
from api.organisations.admin import ScopedAdmin, ScopedInline
from api.organisations.choices import Role
from api.text import validate_one_line, validate_text

# The admin checks text as the API does (api/text.py): names and addresses on one line.
CHECKED_TEXT = {
    models.CharField: {"validators": [validate_one_line]},
    models.TextField: {"validators": [validate_text]},
}


@admin.register(Activity)
class ActivityAdmin(admin.ModelAdmin):
    formfield_overrides = CHECKED_TEXT
    list_display = ["slug", "name_fi", "name_sv", "name_en"]
    search_fields = ["slug", "name_fi", "name_sv", "name_en"]


class SpaceInline(ScopedInline, admin.TabularInline):
    formfield_overrides = CHECKED_TEXT
    model = Space
    fields = ["name", "capacity"]
    extra = 0
    show_change_link = True


class ClosureInline(ScopedInline, admin.TabularInline):
    """Dated closures in the venue's local time; hours empty for whole days."""

    model = Closure
    formfield_overrides = CHECKED_TEXT
    fields = ["first_date", "last_date", "opens", "closes", "reason_fi", "reason_sv", "reason_en"]
    extra = 0


class VenueClosureInline(ClosureInline):
    fk_name = "venue"


class SpaceClosureInline(ClosureInline):
    fk_name = "space"


class ExtraOpeningInline(ScopedInline, admin.TabularInline):
    """Extra local hours on one date (minutes after midnight, like the weekly hours)."""

    model = ExtraOpening
    extra = 0


@admin.register(Venue)
class VenueAdmin(ScopedAdmin):
    change_role = Role.ADMIN
    formfield_overrides = CHECKED_TEXT
    list_display = ["name", "organisation", "district", "address", "timezone"]
    list_filter = ["organisation", "district"]
    search_fields = ["name", "address"]
    inlines = [SpaceInline, VenueClosureInline]


class OpeningHoursInline(ScopedInline, admin.TabularInline):
    model = OpeningHours
    extra = 0


@admin.register(Space)
class SpaceAdmin(ScopedAdmin):
    formfield_overrides = CHECKED_TEXT
    list_display = ["name", "venue", "capacity", "slot_minutes", "buffer_minutes"]
    list_filter = ["venue__district", "activities"]
    search_fields = ["name", "venue__name"]
    filter_horizontal = ["activities"]
    inlines = [OpeningHoursInline, ExtraOpeningInline, SpaceClosureInline]


@admin.register(Closure)
class ClosureAdmin(ScopedAdmin):
    """Every closure, newest dates first, to find and remove one (its alerts go with it)."""

    formfield_overrides = CHECKED_TEXT
    list_display = ["__str__", "first_date", "last_date", "opens", "closes", "reason_en"]
    list_filter = ["venue"]
    search_fields = ["reason_fi", "reason_sv", "reason_en", "space__name", "venue__name"]
    raw_id_fields = ["space", "venue"]
    ordering = ["-first_date"]
