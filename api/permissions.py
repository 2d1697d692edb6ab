from rest_framework.permissions import SAFE_METHODS, BasePermission

from api.organisations import scoping
from api.organisations.choices import Role


class IsOperator(BasePermission):
    """City-wide operators only (the activities everyone shares)."""

    def has_permission(self, request, view):
        return scoping.is_city_operator(request.user)


class IsOperatorOrReadOnly(IsOperator):
    def has_permission(self, request, view):
        return request.method in SAFE_METHODS or super().has_permission(request, view)


def required_role(request, view) -> str:
    """The role the view's action needs: its `roles` say, else viewer to read, admin to write
    (so an action added without a role is an admin's)."""
    default = Role.VIEWER if request.method in SAFE_METHODS else Role.ADMIN
    return getattr(view, "roles", {}).get(getattr(view, "action", None), default)


class OperatorRole(BasePermission):
    """Operator endpoints, by organisation: the person must hold the action's role somewhere
    to get in, and in the row's own organisation to act on a row. Another organisation's rows
    are not in the view's queryset at all (`ScopedQueryset`): a 404, not a 403."""

    def has_permission(self, request, view):
        return scoping.holds(request.user, required_role(request, view))

    def has_object_permission(self, request, view, obj):
        return scoping.allows(request.user, obj, required_role(request, view))


class OperatorRoleOrReadOnly(OperatorRole):
    """The catalogue: anyone reads it, operators of its organisation change it."""

    def has_permission(self, request, view):
        return request.method in SAFE_METHODS or super().has_permission(request, view)

    def has_object_permission(self, request, view, obj):
        return request.method in SAFE_METHODS or super().has_object_permission(request, view, obj)


class ScopedQueryset:
    """A view's rows, as far as the person's organisations reach (every row for a city-wide
    operator). Lists hold the rows the action's role reaches; a row's own actions look among
    those the person sees at all, so that a row of theirs they may not change is a 403.
    With `public_reads`, anyone reads every row (the catalogue)."""

    public_reads = False

    def get_queryset(self):
        queryset = super().get_queryset()
        request = self.request
        if getattr(self, "swagger_fake_view", False) or (
            self.public_reads and request.method in SAFE_METHODS
        ):
            return queryset
        detail = getattr(self, "detail", False)
        role = Role.VIEWER if detail else required_role(request, self)
        return scoping.scoped(queryset, request.user, role)
