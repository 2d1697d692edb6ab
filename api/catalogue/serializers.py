from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import transaction
from rest_framework import serializers

from api.catalogue import hours
from api.catalogue.models import Activity, OpeningHours, Space, Venue
from api.fields import InstantField, ModelSerializer, OneLineField


class ActivityNameSerializer(serializers.Serializer):
    fi = OneLineField(source="name_fi", max_length=100)
    sv = OneLineField(source="name_sv", max_length=100)
    en = OneLineField(source="name_en", max_length=100)


class ActivitySerializer(ModelSerializer):
    name = ActivityNameSerializer(source="*")

    class Meta:
        model = Activity
        fields = ["slug", "name"]


class VenueSerializer(ModelSerializer):
    class Meta:
        model = Venue
        fields = ["id", "name", "address", "district", "latitude", "longitude", "timezone"]


class WallClockField(serializers.CharField):
    """'HH:MM' in the venue's local time, stored as minutes after midnight; '24:00' allowed."""

    def to_internal_value(self, data):
        try:
            return hours.parse_minute(super().to_internal_value(data))
        except ValueError as error:
            raise serializers.ValidationError(str(error)) from None

    def to_representation(self, value):
        return hours.format_minute(value)


class OpeningHoursSerializer(ModelSerializer):
    opens = WallClockField()
    closes = WallClockField()

    class Meta:
        model = OpeningHours
        fields = ["weekday", "opens", "closes"]

    def validate(self, attrs):
        if attrs["closes"] <= attrs["opens"]:
            raise serializers.ValidationError({"closes": "Must be after opens."})
        if attrs["opens"] >= 24 * 60:
            raise serializers.ValidationError({"opens": "Must be before 24:00."})
        return attrs


class SpaceSerializer(ModelSerializer):
    activities = serializers.SlugRelatedField(
        slug_field="slug", many=True, queryset=Activity.objects.all()
    )
    equipment = serializers.ListField(
        child=OneLineField(max_length=60), required=False, default=list
    )
    opening_hours = OpeningHoursSerializer(many=True, required=False, default=list)

    class Meta:
        model = Space
        fields = [
            "id",
            "venue",
            "name",
            "description",
            "capacity",
            "activities",
            "equipment",
            "slot_minutes",
            "min_duration_minutes",
            "max_duration_minutes",
            "lead_time_minutes",
            "max_advance_days",
            "buffer_minutes",
            "access_grace_before_minutes",
            "access_grace_after_minutes",
            "opening_hours",
        ]

    def validate(self, attrs):
        # The model's own rules (durations on the slot grid) apply to the API and admin alike.
        durations = ["slot_minutes", "min_duration_minutes", "max_duration_minutes"]
        values = {
            name: attrs.get(name, getattr(self.instance or Space(), name)) for name in durations
        }
        try:
            Space(**values).clean()
        except DjangoValidationError as error:
            raise serializers.ValidationError(error.message_dict) from None
        return attrs

    @transaction.atomic
    def create(self, validated_data):
        opening_hours = validated_data.pop("opening_hours", [])
        space = super().create(validated_data)
        self._replace_opening_hours(space, opening_hours)
        return space

    @transaction.atomic
    def update(self, instance, validated_data):
        opening_hours = validated_data.pop("opening_hours", None)
        space = super().update(instance, validated_data)
        if opening_hours is not None:
            self._replace_opening_hours(space, opening_hours)
        return space

    @staticmethod
    def _replace_opening_hours(space, opening_hours):
        space.opening_hours.all().delete()
        OpeningHours.objects.bulk_create(OpeningHours(space=space, **h) for h in opening_hours)


class IntervalSerializer(serializers.Serializer):
    start = InstantField()
    end = InstantField()


class AvailabilitySerializer(serializers.Serializer):
    space = serializers.IntegerField()
    free = IntervalSerializer(many=True)
