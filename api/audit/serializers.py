from rest_framework import serializers

from api.audit.models import AuditEntry
from api.fields import InstantField

ACTIONS = {
    AuditEntry.Action.CREATE: "create",
    AuditEntry.Action.UPDATE: "update",
    AuditEntry.Action.DELETE: "delete",
    AuditEntry.Action.ACCESS: "access",
}


class AuditObjectSerializer(serializers.Serializer):
    type = serializers.CharField(source="content_type.model")
    id = serializers.CharField(source="object_pk")
    name = serializers.CharField(source="object_repr")


class AuditEntrySerializer(serializers.ModelSerializer):
    """Who changed what, when: `changes` maps each field to [before, after]."""

    at = InstantField(source="timestamp")
    # The email as it was then; null for the system's own changes (and for erased people).
    actor = serializers.CharField(source="actor_email", allow_null=True)
    action = serializers.SerializerMethodField()
    object = AuditObjectSerializer(source="*")
    changes = serializers.JSONField()

    class Meta:
        model = AuditEntry
        fields = ["id", "at", "actor", "action", "object", "organisation", "changes"]
        read_only_fields = fields

    def get_action(self, entry) -> str:
        return ACTIONS[entry.action]
