from django.conf import settings
from django.contrib import admin
from django.template.response import TemplateResponse

from api.access import services
from api.access.models import Grant, Lock, LockCommand, LockEvent
from api.organisations.admin import ScopedAdmin
from api.organisations.choices import Role


@admin.register(Lock)
class LockAdmin(ScopedAdmin):
    change_role = Role.ADMIN
    list_display = ["id", "space", "online", "last_seen", "desired_version", "applied_version"]
    list_filter = ["online"]
    search_fields = ["id", "space__name"]
    raw_id_fields = ["space"]
    readonly_fields = [
        "desired_version",
        "applied_version",
        "reported_grant_ids",
        "online",
        "last_seen",
        "clock_offset_seconds",
        "battery",
        "publish_requested_at",
        "last_published_at",
        "enrolled_at",
    ]

    def get_fields(self, request, obj=None):
        return ["id", "space"] if obj is None else super().get_fields(request, obj)

    def save_model(self, request, obj, form, change):
        """A new lock is enrolled as the API enrols one (services.enrol_lock); its password is
        shown once, on the page that follows, and kept nowhere else."""
        if change:
            return super().save_model(request, obj, form, change)
        lock, password = services.enrol_lock(obj.id, obj.space)
        obj.__dict__.update(lock.__dict__)
        request.enrolment_password = password

    def response_add(self, request, obj, post_url_continue=None):
        context = {
            **self.admin_site.each_context(request),
            "lock": obj,
            "password": request.enrolment_password,
            "topic_root": settings.MQTT_TOPIC_ROOT,
            "kid": settings.LOCK_SIGNING_KID,
            "public_key": services.public_key(),
        }
        return TemplateResponse(request, "admin/access/lock/enrolled.html", context)


@admin.register(Grant)
class GrantAdmin(ScopedAdmin):
    change_role = Role.ADMIN
    list_display = ["id", "lock", "booking", "valid_from", "valid_until", "state", "problem"]
    list_filter = ["state", "problem"]
    search_fields = ["id", "lock__id"]
    raw_id_fields = ["lock", "booking"]
    exclude = ["code"]
    readonly_fields = [f.name for f in Grant._meta.fields if f.name != "code"]


@admin.register(LockCommand)
class LockCommandAdmin(ScopedAdmin):
    change_role = Role.ADMIN
    list_display = ["cmd_id", "lock", "op", "state", "issued_at", "acked_at", "ok"]
    list_filter = ["op", "state"]
    raw_id_fields = ["lock", "requested_by"]


@admin.register(LockEvent)
class LockEventAdmin(ScopedAdmin):
    change_role = Role.ADMIN
    list_display = ["lock", "type", "result", "grant_id", "at"]
    list_filter = ["type", "result"]
    search_fields = ["lock__id", "grant_id"]
    raw_id_fields = ["lock"]
