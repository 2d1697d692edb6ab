from django.conf import settings
from django.utils.translation import gettext_lazy as _
from rest_framework import serializers

from api.access import services
from api.access.models import Lock, LockCommand
from api.catalogue.models import Space
from api.fields import InstantField, ModelSerializer
from api.organisations.choices import Role
from api.organisations.fields import ScopedPrimaryKeyRelatedField


class LockSerializer(ModelSerializer):
    online = serializers.BooleanField(source="is_online", read_only=True)
    in_sync = serializers.BooleanField(read_only=True)

    class Meta:
        model = Lock
        fields = [
            "id",
            "space",
            "online",
            "last_seen",
            "desired_version",
            "applied_version",
            "in_sync",
        ]
        read_only_fields = fields


class EnrolmentSerializer(serializers.Serializer):
    """POST /locks/: the lock id and its space in; the credentials, shown once, out."""

    id = serializers.RegexField(
        r"^[A-Za-z0-9_-]{1,64}$",
        max_length=64,
        error_messages={"invalid": "Letters, digits, '-' and '_' only, at most 64 characters."},
    )
    # One of a venue the person is an admin of (any, for a city-wide operator).
    space = ScopedPrimaryKeyRelatedField(Role.ADMIN, queryset=Space.objects.all())
    mqtt_username = serializers.CharField(read_only=True)
    mqtt_password = serializers.CharField(read_only=True)
    topic_root = serializers.CharField(read_only=True)
    kid = serializers.CharField(read_only=True)
    public_key = serializers.CharField(read_only=True)
    public_key_pem = serializers.CharField(read_only=True)

    def validate_id(self, value):
        if Lock.objects.filter(id=value).exists():
            raise serializers.ValidationError(
                _("A lock with this id is enrolled already."), code="unique"
            )
        return value

    def validate_space(self, value):
        if Lock.objects.filter(space=value).exists():
            raise serializers.ValidationError(_("This space has a lock already."), code="unique")
        return value

    def create(self, validated_data):
        lock, password = services.enrol_lock(validated_data["id"], validated_data["space"])
        return {
            "id": lock.id,
            "space": lock.space,
            "mqtt_username": lock.id,
            "mqtt_password": password,
            "topic_root": settings.MQTT_TOPIC_ROOT,
            "kid": settings.LOCK_SIGNING_KID,
            "public_key": services.public_key(),
            "public_key_pem": services.public_key_pem(),
        }


class PasswordSerializer(serializers.Serializer):
    """POST /locks/{id}/rotate-password/: the new MQTT password, shown only here."""

    id = serializers.CharField(read_only=True)
    mqtt_username = serializers.CharField(read_only=True)
    mqtt_password = serializers.CharField(read_only=True)


class LockCommandSerializer(ModelSerializer):
    class Meta:
        model = LockCommand
        fields = [
            "cmd_id",
            "lock",
            "op",
            "state",
            "issued_at",
            "expires_at",
            "sent_at",
            "acked_at",
            "ok",
            "error",
        ]
        read_only_fields = fields


class AlertSerializer(serializers.Serializer):
    kind = serializers.CharField()
    since = InstantField(allow_null=True)
    lock = serializers.CharField(allow_null=True)
    space = serializers.IntegerField(allow_null=True)
    booking = serializers.IntegerField(allow_null=True)
    grant = serializers.CharField(allow_null=True)
    detail = serializers.CharField()
