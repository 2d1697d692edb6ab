"""The admin, for city-wide operators and for the members of organisations: each member sees
and changes what their organisation's roles allow (api/organisations/admin.py, ScopedAdmin)."""

from django.contrib import admin
from django.contrib.admin.forms import AdminAuthenticationForm

from api.organisations import scoping
from api.organisations.choices import Role


class MemberAuthenticationForm(AdminAuthenticationForm):
    def confirm_login_allowed(self, user):
        if not scoping.holds(user, Role.VIEWER):
            super().confirm_login_allowed(user)  # refuses, with the admin's own message


class AdminSite(admin.AdminSite):
    login_form = MemberAuthenticationForm

    def has_permission(self, request):
        return request.user.is_active and scoping.holds(request.user, Role.VIEWER)
