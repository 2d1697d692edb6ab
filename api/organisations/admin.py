from django.contrib import admin

from api.organisations import scoping
from api.organisations.choices import Role
from api.organisations.models import Membership, Organisation


def may(request, row, role: str) -> bool:
    """Whether the person may act with `role` on the row, or on some row when it is None."""
    if row is None:
        return scoping.holds(request.user, role)
    return scoping.allows(request.user, row, role)


class ScopedAdmin(admin.ModelAdmin):
    """A model's admin pages, scoped as the API is (api/organisations/scoping.py): a member
    sees the rows of their organisations and changes them with `change_role`; choices of
    related rows are those they may change; city-wide operators see and change everything."""

    view_role = Role.VIEWER
    change_role = Role.MANAGER

    def get_queryset(self, request):
        return scoping.scoped(super().get_queryset(request), request.user, self.view_role)

    def has_module_permission(self, request):
        return scoping.holds(request.user, self.view_role)

    def has_view_permission(self, request, obj=None):
        return may(request, obj, self.view_role)

    def has_add_permission(self, request):
        return may(request, None, self.change_role)

    def has_change_permission(self, request, obj=None):
        return may(request, obj, self.change_role)

    def has_delete_permission(self, request, obj=None):
        return self.has_change_permission(request, obj)

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        related = db_field.related_model
        if hasattr(related, "organisation_path"):
            queryset = related._default_manager.all()
            kwargs["queryset"] = scoping.scoped(queryset, request.user, self.change_role)
        return super().formfield_for_foreignkey(db_field, request, **kwargs)


class ScopedInline(admin.options.InlineModelAdmin):
    """Rows shown inside a scoped admin's page: changed with the parent row's `change_role`."""

    change_role = Role.MANAGER

    def has_view_permission(self, request, obj=None):
        return may(request, obj, Role.VIEWER)

    def has_add_permission(self, request, obj=None):
        return self.has_change_permission(request, obj)

    def has_change_permission(self, request, obj=None):
        return may(request, obj, self.change_role)

    def has_delete_permission(self, request, obj=None):
        return self.has_change_permission(request, obj)


class MembershipInline(ScopedInline, admin.TabularInline):
    model = Membership
    change_role = Role.ADMIN
    raw_id_fields = ["user"]
    extra = 1


@admin.register(Organisation)
class OrganisationAdmin(ScopedAdmin):
    """Organisations and their members: admins manage their own; city-wide operators add."""

    change_role = Role.ADMIN
    list_display = ["name", "kind", "created_at"]
    list_filter = ["kind"]
    search_fields = ["name"]
    inlines = [MembershipInline]

    def has_add_permission(self, request):
        return scoping.is_city_operator(request.user)

    def has_delete_permission(self, request, obj=None):
        return scoping.is_city_operator(request.user)
