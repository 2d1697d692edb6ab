from django.contrib import admin
from django.db import models

from api.catalogue.models import Activity, OpeningHours, Space, Venue
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


class SpaceInline(admin.TabularInline):
    formfield_overrides = CHECKED_TEXT
    model = Space
    fields = ["name", "capacity"]
    extra = 0
    show_change_link = True


@admin.register(Venue)
class VenueAdmin(admin.ModelAdmin):
    formfield_overrides = CHECKED_TEXT
    list_display = ["name", "district", "address", "timezone"]
    list_filter = ["district"]
    search_fields = ["name", "address"]
    inlines = [SpaceInline]


class OpeningHoursInline(admin.TabularInline):
    model = OpeningHours
    extra = 0


@admin.register(Space)
class SpaceAdmin(admin.ModelAdmin):
    formfield_overrides = CHECKED_TEXT
    list_display = ["name", "venue", "capacity", "slot_minutes", "buffer_minutes"]
    list_filter = ["venue__district", "activities"]
    search_fields = ["name", "venue__name"]
    filter_horizontal = ["activities"]
    inlines = [OpeningHoursInline]
