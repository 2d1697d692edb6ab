from rest_framework import mixins, viewsets
from rest_framework.generics import get_object_or_404

from api.organisations import scoping
from api.organisations.choices import Role
from api.organisations.models import Membership, Organisation
from api.organisations.serializers import (
    MembershipSerializer,
    OrganisationSerializer,
    RoleSerializer,
)
from api.permissions import IsOperator, OperatorRole, ScopedQueryset


class OrganisationViewSet(
    ScopedQueryset, mixins.ListModelMixin, mixins.CreateModelMixin, viewsets.GenericViewSet
):
    """Members see their own organisations; city-wide operators see them all, and add them."""

    queryset = Organisation.objects.all()
    serializer_class = OrganisationSerializer

    def get_permissions(self):
        return [IsOperator()] if self.action == "create" else [OperatorRole()]


class MembershipViewSet(
    mixins.ListModelMixin,
    mixins.CreateModelMixin,
    mixins.UpdateModelMixin,
    mixins.DestroyModelMixin,
    viewsets.GenericViewSet,
):
    """An organisation's members, for its admins (another organisation's are a 404)."""

    permission_classes = [OperatorRole]
    roles = dict.fromkeys(["list", "create", "partial_update", "destroy"], Role.ADMIN)
    http_method_names = ["get", "post", "patch", "delete", "head", "options"]
    filterset_class = None

    def get_serializer_class(self):
        return RoleSerializer if self.action == "partial_update" else MembershipSerializer

    def get_organisation(self):
        if getattr(self, "swagger_fake_view", False):
            return None
        organisations = scoping.scoped(Organisation.objects.all(), self.request.user)
        organisation = get_object_or_404(organisations, pk=self.kwargs["organisation_pk"])
        self.check_object_permissions(self.request, organisation)
        return organisation

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return Membership.objects.none()
        return self.get_organisation().memberships.select_related("user")

    def get_serializer_context(self):
        context = super().get_serializer_context()
        if "organisation_pk" in self.kwargs and self.action == "create":
            context["organisation"] = self.get_organisation()
        return context
