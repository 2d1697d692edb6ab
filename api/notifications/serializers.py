from urllib.parse import urlsplit

from django.utils.translation import gettext_lazy as _
from rest_framework import serializers

from api.fields import ModelSerializer, OneLineField
from api.notifications.choices import WebhookEvent
from api.notifications.models import Webhook, WebhookDelivery
from api.organisations import scoping
from api.organisations.choices import Role
from api.organisations.fields import ScopedPrimaryKeyRelatedField
from api.organisations.models import Organisation


class WebhookSerializer(ModelSerializer):
    # The secret signs deliveries; once given it is never shown again.
    secret = OneLineField(write_only=True, min_length=16, max_length=200)
    events = serializers.ListField(
        child=serializers.ChoiceField(choices=WebhookEvent.choices), allow_empty=False
    )
    # Whose venues' events it receives: one the person is an admin of (their only one when
    # left out); null, every venue's, is a city-wide operator's choice.
    organisation = ScopedPrimaryKeyRelatedField(
        Role.ADMIN, queryset=Organisation.objects.all(), allow_null=True, required=False
    )

    class Meta:
        model = Webhook
        fields = ["id", "organisation", "url", "secret", "events", "active", "created_at"]
        read_only_fields = ["id", "created_at"]

    def validate(self, attrs):
        user = self.context["request"].user
        if scoping.is_city_operator(user) or attrs.get("organisation"):
            return attrs
        if self.instance is not None and "organisation" not in attrs:
            return attrs
        administered = list(scoping.scoped(Organisation.objects.all(), user, Role.ADMIN)[:2])
        if len(administered) != 1 or "organisation" in attrs:
            raise serializers.ValidationError(
                {"organisation": ["Name the organisation whose events this webhook receives."]}
            )
        return {**attrs, "organisation": administered[0]}

    def validate_url(self, value):
        if urlsplit(value).scheme not in ("http", "https"):
            raise serializers.ValidationError(_("Use an http or https URL."), code="invalid")
        return value

    def validate_events(self, value):
        return sorted(set(value))


class WebhookDeliverySerializer(ModelSerializer):
    id = serializers.UUIDField(source="event_id", read_only=True)
    delivery = serializers.IntegerField(source="pk", read_only=True)
    payload = serializers.JSONField(source="payload_json", read_only=True)

    class Meta:
        model = WebhookDelivery
        fields = [
            "delivery",
            "id",
            "event",
            "state",
            "attempts",
            "last_status",
            "last_error",
            "created_at",
            "last_attempt_at",
            "next_attempt_at",
            "delivered_at",
            "payload",
        ]
        read_only_fields = fields
