from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import transaction
from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers
from rest_framework.exceptions import ErrorDetail

from api.catalogue import geo, hours
from api.catalogue.models import Activity, Closure, ExtraOpening, OpeningHours, Space, Venue
from api.fields import InstantField, ModelSerializer, OneLineField
from api.organisations.choices import Role
from api.organisations.fields import ScopedPrimaryKeyRelatedField
from api.organisations.models import Organisation


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
    # One the person is an admin of (any, for a city-wide operator).
    organisation = ScopedPrimaryKeyRelatedField(Role.ADMIN, queryset=Organisation.objects.all())

    class Meta:
        model = Venue
        fields = [
            "id",
            "organisation",
            "name",
            "address",
            "district",
            "latitude",
            "longitude",
            "timezone",
        ]


class WallClockField(serializers.CharField):
    """'HH:MM' in the venue's local time, stored as minutes after midnight; '24:00' allowed."""

    def to_internal_value(self, data):
        try:
            return hours.parse_minute(super().to_internal_value(data))
        except ValueError as error:
            raise serializers.ValidationError(str(error)) from None

    def to_representation(self, value):
        return hours.format_minute(value)


@extend_schema_field({"type": "string", "example": "60.1875,24.9776", "nullable": True})
class PointField(serializers.Field):
    """'<lat>,<lon>' in and out, held in two attributes of the object (`source="*"`)."""

    default_error_messages = {"invalid": _("Use <latitude>,<longitude>, e.g. 60.1875,24.9776.")}

    def __init__(self, latitude: str, longitude: str, **kwargs):
        self.names = (latitude, longitude)
        super().__init__(source="*", allow_null=True, **kwargs)

    def validate_empty_values(self, data):
        if data is None:
            return (True, dict.fromkeys(self.names))
        return super().validate_empty_values(data)

    def to_internal_value(self, data):
        if not isinstance(data, str) or len(data) > 100:
            self.fail("invalid")
        try:
            point = geo.parse_point(data)
        except ValueError as error:
            raise serializers.ValidationError(str(error), code="invalid") from None
        return dict(zip(self.names, point, strict=True))

    def to_representation(self, instance):
        latitude, longitude = (getattr(instance, name) for name in self.names)
        return None if latitude is None else geo.format_point(latitude, longitude)


def check_hours(attrs: dict, optional: bool = False) -> dict:
    """`opens` before `closes`, both wall-clock minutes of one local day; for a closure's
    optional hours, both or neither."""
    opens, closes = attrs.get("opens"), attrs.get("closes")
    if optional and opens is None and closes is None:
        return attrs
    if opens is None or closes is None:
        missing = "opens" if opens is None else "closes"
        message = _("Give opens and closes together, or neither.")
        raise serializers.ValidationError({missing: [ErrorDetail(message, code="hours_pair")]})
    if opens >= 24 * 60:
        message = ErrorDetail(_("Must be before 24:00."), code="invalid")
        raise serializers.ValidationError({"opens": [message]})
    if closes <= opens:
        message = ErrorDetail(_("Must be after opens."), code="hours_order")
        raise serializers.ValidationError({"closes": [message]})
    return attrs


class OpeningHoursSerializer(ModelSerializer):
    opens = WallClockField()
    closes = WallClockField()

    class Meta:
        model = OpeningHours
        fields = ["weekday", "opens", "closes"]

    def validate(self, attrs):
        return check_hours(attrs)


class SpaceSerializer(ModelSerializer):
    # One of a venue the person manages (any, for a city-wide operator).
    venue = ScopedPrimaryKeyRelatedField(Role.MANAGER, queryset=Venue.objects.all())
    activities = serializers.SlugRelatedField(
        slug_field="slug", many=True, queryset=Activity.objects.all()
    )
    equipment = serializers.ListField(
        child=OneLineField(max_length=60), required=False, default=list
    )
    opening_hours = OpeningHoursSerializer(many=True, required=False, default=list)
    # What a frontend shows beside a space without asking for its venue too.
    venue_name = serializers.CharField(source="venue.name", read_only=True)
    district = serializers.CharField(source="venue.district", read_only=True)
    timezone = serializers.CharField(source="venue.timezone", read_only=True)
    has_lock = serializers.SerializerMethodField()
    distance_km = serializers.SerializerMethodField()

    class Meta:
        model = Space
        fields = [
            "id",
            "venue",
            "venue_name",
            "district",
            "timezone",
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
            "has_lock",
            "distance_km",
        ]

    def get_has_lock(self, space) -> bool:
        """Whether a booking of it comes with a door code."""
        return hasattr(space, "lock")

    def get_distance_km(self, space) -> float | None:
        """Kilometres from `near` (GET /spaces/?near=…); null without it."""
        distance = getattr(space, "distance_km", None)
        return None if distance is None else round(distance, 3)

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
        # One by one, not in bulk, so that the audit trail (api/audit) sees each: a week's worth.
        for weekly in opening_hours:
            OpeningHours.objects.create(space=space, **weekly)


class ClosureReasonSerializer(serializers.Serializer):
    fi = OneLineField(source="reason_fi", max_length=200)
    sv = OneLineField(source="reason_sv", max_length=200)
    en = OneLineField(source="reason_en", max_length=200)


class ClosureSerializer(ModelSerializer):
    """Closed on the local dates first_date..last_date, only between opens and closes if given."""

    opens = WallClockField(required=False, allow_null=True)
    closes = WallClockField(required=False, allow_null=True)
    reason = ClosureReasonSerializer(source="*")

    class Meta:
        model = Closure
        fields = ["id", "first_date", "last_date", "opens", "closes", "reason"]

    def validate(self, attrs):
        if attrs["last_date"] < attrs["first_date"]:
            message = ErrorDetail(_("Must not be before first_date."), code="dates_order")
            raise serializers.ValidationError({"last_date": [message]})
        return check_hours(attrs, optional=True)


class ExtraOpeningSerializer(ModelSerializer):
    """Extra local hours on one date, outside the weekly pattern."""

    opens = WallClockField()
    closes = WallClockField()

    class Meta:
        model = ExtraOpening
        fields = ["id", "date", "opens", "closes"]

    def validate(self, attrs):
        return check_hours(attrs)


class IntervalSerializer(serializers.Serializer):
    start = InstantField()
    end = InstantField()


class AvailabilitySerializer(serializers.Serializer):
    space = serializers.IntegerField()
    free = IntervalSerializer(many=True)
