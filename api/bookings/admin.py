from django.contrib import admin

from api.bookings import services
from api.bookings.models import Booking, BookingRequest
from api.organisations.admin import ScopedAdmin


class MadeThroughTheApi:
    """Requests and bookings are made through the API, where the booking rules and the
    allocation live; the admin reads them (and cancels bookings)."""

    def has_add_permission(self, request):
        return False


@admin.register(BookingRequest)
class BookingRequestAdmin(MadeThroughTheApi, ScopedAdmin):
    list_display = ["id", "user", "space", "start", "end", "status", "reason", "created_at"]
    list_filter = ["status", "reason"]
    search_fields = ["id", "user__email"]
    raw_id_fields = ["user", "space", "series", "release_window"]
    readonly_fields = ["status", "reason", "decided_at", "created_at", "queued_at"]


@admin.register(Booking)
class BookingAdmin(MadeThroughTheApi, ScopedAdmin):
    list_display = ["id", "space", "user", "start", "end", "status", "checked_in_at"]
    list_filter = ["status", "space__venue"]
    search_fields = ["user__email", "space__name"]
    raw_id_fields = ["user", "space", "request"]
    readonly_fields = ["blocked", "checked_in_at", "cancelled_at", "no_show_at", "created_at"]
    actions = ["cancel"]

    @admin.action(description="Cancel the selected bookings")
    def cancel(self, request, queryset):
        for booking in queryset:
            services.cancel_booking(booking, by=request.user)
