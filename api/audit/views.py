from rest_framework import mixins, viewsets

from api.audit.filters import AuditFilter
from api.audit.models import AuditEntry
from api.audit.serializers import AuditEntrySerializer
from api.organisations.choices import Role
from api.permissions import OperatorRole, ScopedQueryset


class AuditViewSet(ScopedQueryset, mixins.ListModelMixin, viewsets.GenericViewSet):
    """What operators changed, newest first: an organisation's for its admins, everything for
    city-wide operators."""

    queryset = AuditEntry.objects.select_related("content_type").order_by("-timestamp", "-id")
    serializer_class = AuditEntrySerializer
    permission_classes = [OperatorRole]
    roles = {"list": Role.ADMIN}
    filterset_class = AuditFilter
