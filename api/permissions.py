from rest_framework.permissions import SAFE_METHODS, BasePermission


class IsOperator(BasePermission):
    def has_permission(self, request, view):
        return bool(request.user and request.user.is_staff)


class IsOperatorOrReadOnly(BasePermission):
    """The catalogue: anyone reads it, operators change it."""

    def has_permission(self, request, view):
        return request.method in SAFE_METHODS or bool(request.user and request.user.is_staff)
