from auditlog.mixins import LogEntryAdminMixin
from django.contrib import admin

from api.audit.models import AuditEntry
from api.organisations.admin import ScopedAdmin
from api.organisations.choices import Role

# auditlog's own admin page for the entries lists every organisation's: this one replaces it.
admin.site.unregister(AuditEntry)


@admin.register(AuditEntry)
class AuditEntryAdmin(ScopedAdmin, LogEntryAdminMixin):
    """The audit trail, for an organisation's admins (everything, for city-wide operators);
    read only."""

    view_role = change_role = Role.ADMIN
    date_hierarchy = "timestamp"
    list_select_related = ["content_type", "actor"]
    list_display = ["created", "resource_url", "action", "msg_short", "actor_email"]
    list_filter = ["action", "content_type"]
    search_fields = ["object_repr", "actor_email"]
    readonly_fields = ["created", "resource_url", "action", "actor_email", "msg"]
    fields = readonly_fields

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
