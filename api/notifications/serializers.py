from urllib.parse import urlsplit

from django.utils.translation import gettext_lazy as _
from rest_framework import serializers

from api.fields import ModelSerializer, OneLineField
from api.notifications.choices import WebhookEvent
from api.notifications.models import Webhook, WebhookDelivery


class WebhookSerializer(ModelSerializer):
    # The secret signs deliveries; once given it is never shown again.
    secret = OneLineField(write_only=True, min_length=16, max_length=200)
    events = serializers.ListField(
        child=serializers.ChoiceField(choices=WebhookEvent.choices), allow_empty=False
    )

    class Meta:
        model = Webhook
        fields = ["id", "url", "secret", "events", "active", "created_at"]
        read_only_fields = ["id", "created_at"]

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
