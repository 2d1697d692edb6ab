from django.contrib import admin

from api.catalogue.models import Activity, OpeningHours, Space, Venue


@admin.register(Activity)
class ActivityAdmin(admin.ModelAdmin):
    list_display = ["slug", "name_fi", "name_sv", "name_en"]
    search_fields = ["slug", "name_fi", "name_sv", "name_en"]


class SpaceInline(admin.TabularInline):
    model = Space
    fields = ["name", "capacity"]
    extra = 0
    show_change_link = True


@admin.register(Venue)
class VenueAdmin(admin.ModelAdmin):
    list_display = ["name", "district", "address", "timezone"]
    list_filter = ["district"]
    search_fields = ["name", "address"]
    inlines = [SpaceInline]


class OpeningHoursInline(admin.TabularInline):
    model = OpeningHours
    extra = 0


@admin.register(Space)
class SpaceAdmin(admin.ModelAdmin):
    list_display = ["name", "venue", "capacity", "slot_minutes", "buffer_minutes"]
    list_filter = ["venue__district", "activities"]
    search_fields = ["name", "venue__name"]
    filter_horizontal = ["activities"]
    inlines = [OpeningHoursInline]
