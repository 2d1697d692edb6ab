from rest_framework import serializers

from api.organisations import scoping
from api.organisations.choices import Role


class ScopedPrimaryKeyRelatedField(serializers.PrimaryKeyRelatedField):
    """A row named in a body, among those the person may act on with `role`: another
    organisation's is "does not exist", like one that is not there."""

    def __init__(self, role: str = Role.ADMIN, **kwargs):
        self.role = role
        super().__init__(**kwargs)

    def get_queryset(self):
        request = self.context.get("request")
        user = request.user if request else None
        return scoping.scoped(super().get_queryset(), user, self.role)
