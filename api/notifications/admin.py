from django.contrib import admin, messages

from api.notifications import services
from api.notifications.models import Notification, Webhook, WebhookDelivery
from api.organisations import scoping
from api.organisations.admin import ScopedAdmin
from api.organisations.choices import Role


@admin.register(Notification)
class NotificationAdmin(ScopedAdmin):
    list_display = [
        "id",
        "kind",
        "reminder_minutes",
        "recipient",
        "language",
        "booking",
        "state",
        "attempts",
        "created_at",
        "sent_at",
    ]
    list_filter = ["state", "kind", "language"]
    search_fields = ["recipient__email", "booking__id", "last_error"]
    raw_id_fields = ["recipient", "booking", "request"]
    readonly_fields = [
        field.name for field in Notification._meta.fields if field.name not in ("id",)
    ]
    date_hierarchy = "created_at"
    actions = ["send_again"]

    def has_add_permission(self, request):
        return False  # rows come from events, never by hand

    @admin.action(description="Send the selected failed notifications again")
    def send_again(self, request, queryset):
        count = sum(services.retry(notification) for notification in queryset)
        self.message_user(request, f"{count} notifications queued again.", messages.SUCCESS)


@admin.register(Webhook)
class WebhookAdmin(ScopedAdmin):
    view_role = change_role = Role.ADMIN

    def get_form(self, request, obj=None, **kwargs):
        form = super().get_form(request, obj, **kwargs)
        # No organisation is every venue's events: a city-wide operator's webhook only.
        form.base_fields["organisation"].required = not scoping.is_city_operator(request.user)
        return form

    list_display = ["id", "url", "events", "active", "created_by", "created_at"]
    list_filter = ["active"]


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(ScopedAdmin):
    view_role = change_role = Role.ADMIN
    list_display = [
        "id",
        "webhook",
        "event",
        "event_id",
        "state",
        "attempts",
        "last_status",
        "created_at",
        "delivered_at",
    ]
    list_filter = ["state", "event"]
    search_fields = ["event_id", "last_error"]
    readonly_fields = [field.name for field in WebhookDelivery._meta.fields]

    def has_add_permission(self, request):
        return False
