from datetime import timedelta

from django.utils import timezone
from rest_framework import serializers

from api.access import services as access
from api.bookings.models import Booking, BookingRequest
from api.catalogue.models import Activity, Space
from api.fields import FreeTextField, InstantField, ModelSerializer


class BookingRequestSerializer(ModelSerializer):
    space = serializers.PrimaryKeyRelatedField(
        queryset=Space.objects.select_related("venue").prefetch_related("opening_hours")
    )
    start = InstantField()
    end = InstantField()
    party_size = serializers.IntegerField()
    activity = serializers.SlugRelatedField(
        slug_field="slug", queryset=Activity.objects.all(), required=False, allow_null=True
    )
    purpose = FreeTextField(max_length=500, required=False, allow_blank=True)
    booking = serializers.PrimaryKeyRelatedField(read_only=True, allow_null=True)

    class Meta:
        model = BookingRequest
        fields = [
            "id",
            "status",
            "space",
            "start",
            "end",
            "party_size",
            "activity",
            "purpose",
            "booking",
            "reason",
            "created_at",
            "decided_at",
        ]
        read_only_fields = ["id", "status", "booking", "reason", "created_at", "decided_at"]

    def validate(self, attrs):
        """The checks a person can be told at once; the worker decides the rest."""
        space, start, end = attrs["space"], attrs["start"], attrs["end"]
        now = timezone.now()
        if end <= start:
            raise serializers.ValidationError({"end": "End must be after start."})
        if start < now:
            raise serializers.ValidationError({"start": "Start is in the past."})
        if start < now + timedelta(minutes=space.lead_time_minutes):
            raise serializers.ValidationError(
                {"start": f"Book at least {space.lead_time_minutes} minutes ahead."}
            )
        if start > now + timedelta(days=space.max_advance_days):
            raise serializers.ValidationError(
                {"start": f"Book at most {space.max_advance_days} days ahead."}
            )
        for name in ("start", "end"):
            if not space.is_on_grid(attrs[name]):
                raise serializers.ValidationError(
                    {name: f"Must fall on the space's {space.slot_minutes}-minute grid."}
                )
        minutes = (end - start) / timedelta(minutes=1)
        if not space.min_duration_minutes <= minutes <= space.max_duration_minutes:
            raise serializers.ValidationError(
                {
                    "end": f"The duration must be {space.min_duration_minutes} to "
                    f"{space.max_duration_minutes} minutes."
                }
            )
        if not space.is_open(start, end):
            raise serializers.ValidationError(
                {"start": "The space is not open for the whole slot."}
            )
        if not 1 <= attrs["party_size"] <= space.capacity:
            raise serializers.ValidationError(
                {"party_size": f"Must be from 1 to the space's capacity, {space.capacity}."}
            )
        activity = attrs.get("activity")
        if activity is not None and not space.activities.filter(pk=activity.pk).exists():
            raise serializers.ValidationError({"activity": "The space does not offer it."})
        return attrs


class AccessSerializer(serializers.Serializer):
    code = serializers.CharField()
    valid_from = InstantField()
    valid_until = InstantField()
    state = serializers.CharField()


class BookingSerializer(ModelSerializer):
    access = serializers.SerializerMethodField()

    class Meta:
        model = Booking
        fields = [
            "id",
            "space",
            "start",
            "end",
            "party_size",
            "status",
            "checked_in_at",
            "request",
            "access",
        ]
        read_only_fields = fields

    def get_access(self, booking) -> AccessSerializer(allow_null=True):
        # The code, for the booking's owner and operators only; null for a space without a lock.
        request = self.context.get("request")
        grant = access.grant_shown_to(booking, request.user if request else None)
        return AccessSerializer(grant).data if grant else None
