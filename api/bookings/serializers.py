from datetime import datetime, timedelta

from django.conf import settings
from django.core.exceptions import ValidationError as DjangoValidationError
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from rest_framework import serializers
from rest_framework.exceptions import ErrorDetail

from api.access import services as access
from api.bookings import availability, rules
from api.bookings.choices import RejectReason
from api.bookings.models import Booking, BookingRequest
from api.bookings.search import SlotQuery
from api.catalogue import geo
from api.catalogue.models import MAX_DURATION_MINUTES, Activity, Space
from api.catalogue.serializers import PointField
from api.fields import FreeTextField, InstantField, ModelSerializer, OneLineField
from api.text import validate_one_line

# The largest party anyone may ask for: what the database column holds.
MAX_PARTY = 2**31 - 1


def rule_error(
    breach: rules.Breach, space: rules.SpaceRules, start: datetime, now: datetime
) -> serializers.ValidationError:
    """A broken booking rule as a 400 naming the field it concerns, in words and as a code."""
    reason = breach.reason
    if reason == RejectReason.TOO_LATE and start < now:
        message = _("Start is in the past.")
    else:
        message = {
            RejectReason.TOO_LATE: _("Book at least %(lead)d minutes ahead."),
            RejectReason.TOO_FAR_AHEAD: _("Book at most %(advance)d days ahead."),
            RejectReason.OFF_GRID: _("Must fall on the space's %(slot)d-minute grid."),
            RejectReason.DURATION_NOT_ALLOWED: _(
                "The duration must be %(shortest)d to %(longest)d minutes."
            ),
            RejectReason.OVER_CAPACITY: _("Must be from 1 to the space's capacity, %(capacity)d."),
            RejectReason.ACTIVITY_NOT_OFFERED: _("The space does not offer it."),
            RejectReason.SPACE_CLOSED: _("The space is not open for the whole slot."),
        }[reason] % {
            "lead": space.lead_time_minutes,
            "advance": space.max_advance_days,
            "slot": space.slot_minutes,
            "shortest": space.min_duration_minutes,
            "longest": space.max_duration_minutes,
            "capacity": space.capacity,
        }
    return serializers.ValidationError({breach.concerns: [ErrorDetail(message, code=reason)]})


def error(field: str, message, code: str) -> serializers.ValidationError:
    return serializers.ValidationError({field: [ErrorDetail(message, code=code)]})


class ActivityField(serializers.SlugRelatedField):
    """An activity by its slug. A query string does not pass the JSON parser's checks, so text
    no slug holds (a NUL, which PostgreSQL cannot even compare) is refused before the lookup."""

    def __init__(self, **kwargs):
        super().__init__(slug_field="slug", queryset=Activity.objects.all(), **kwargs)

    def to_internal_value(self, data):
        if isinstance(data, str):
            try:
                validate_one_line(data)
            except DjangoValidationError as error:
                raise serializers.ValidationError(error.messages, code="not_one_line") from None
        return super().to_internal_value(data)


class CriteriaFields(serializers.Serializer):
    """The fields that say which spaces and times would do: slot search's query and a flexible
    request's body (both read into a SlotQuery by search.SlotQuery.of_criteria)."""

    activity = ActivityField()
    party_size = serializers.IntegerField(min_value=1, max_value=MAX_PARTY)
    duration_minutes = serializers.IntegerField(min_value=1, max_value=MAX_DURATION_MINUTES)
    district = OneLineField(max_length=100, required=False)
    equipment = serializers.ListField(
        child=OneLineField(max_length=60), required=False, max_length=20
    )
    near = PointField("near_latitude", "near_longitude", required=False)
    radius_km = serializers.FloatField(required=False, min_value=0.001, max_value=geo.MAX_RADIUS_KM)

    # The names of the window's two ends in this serializer's input.
    window_names = ("window_start", "window_end")

    def validate_criteria(self, attrs):
        """The checks across fields: a window the right way round, at most 31 days long, with
        room for the duration; and a radius only around a point."""
        first, last = self.window_names
        start, end = attrs["window_start"], attrs["window_end"]
        if end <= start:
            raise error(last, _("Must be after %(first)s.") % {"first": first}, "window_order")
        if end - start > timedelta(days=settings.AVAILABILITY_MAX_DAYS):
            raise error(
                last,
                _("At most %(days)d days after %(first)s.")
                % {"days": settings.AVAILABILITY_MAX_DAYS, "first": first},
                "window_too_long",
            )
        if timedelta(minutes=attrs["duration_minutes"]) > end - start:
            raise error(
                "duration_minutes",
                _("Longer than the time from %(first)s to %(last)s.")
                % {"first": first, "last": last},
                "duration_longer_than_window",
            )
        if attrs.get("radius_km") is not None and attrs.get("near_latitude") is None:
            raise error("radius_km", _("Give near with radius_km."), "radius_without_near")
        return attrs


class SlotSearchSerializer(CriteriaFields):
    """GET /api/v1/slots/'s query: `from` and `to` are the window."""

    window_names = ("from", "to")

    def get_fields(self):
        fields = super().get_fields()
        # `from` is a Python keyword, so the two are added by name.
        fields["from"] = InstantField(source="window_start")
        fields["to"] = InstantField(source="window_end")
        return fields

    def validate(self, attrs):
        return self.validate_criteria(attrs)

    def query(self) -> SlotQuery:
        """What a flexible request with these criteria would ask for."""
        return SlotQuery.of_criteria(BookingRequest(**self.validated_data))


class OfferSerializer(serializers.Serializer):
    space = serializers.IntegerField()
    venue = serializers.IntegerField()
    start = InstantField()
    end = InstantField()
    distance_km = serializers.SerializerMethodField()

    def get_distance_km(self, offer) -> float | None:
        return None if offer.distance_km is None else round(offer.distance_km, 3)


DIRECT_FIELDS = ("space", "start", "end")
FLEXIBLE_FIELDS = (
    "window_start",
    "window_end",
    "duration_minutes",
    "district",
    "near",
    "radius_km",
    "equipment",
)


class BookingRequestSerializer(ModelSerializer, CriteriaFields):
    """A direct request (`space`, `start`, `end`) or a flexible one (the criteria instead)."""

    space = serializers.PrimaryKeyRelatedField(
        queryset=Space.objects.select_related("venue").prefetch_related(
            "opening_hours", "activities"
        ),
        required=False,
        allow_null=True,
    )
    start = InstantField(required=False, allow_null=True)
    end = InstantField(required=False, allow_null=True)
    activity = ActivityField(required=False, allow_null=True)
    purpose = FreeTextField(max_length=500, required=False, allow_blank=True)
    window_start = InstantField(required=False)
    window_end = InstantField(required=False)
    duration_minutes = serializers.IntegerField(
        min_value=1, max_value=MAX_DURATION_MINUTES, required=False
    )
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
            *FLEXIBLE_FIELDS,
            "booking",
            "reason",
            "created_at",
            "decided_at",
        ]
        read_only_fields = ["id", "status", "booking", "reason", "created_at", "decided_at"]

    def validate(self, attrs):
        """The checks a person can be told at once; the worker decides the rest."""
        given = {name for name, value in self.initial_data.items() if value not in (None, [])}
        if attrs.get("space") is not None:
            return self._validate_direct(attrs, given)
        if given & {"window_start", "window_end", "duration_minutes"}:
            return self._validate_flexible(attrs, given)
        raise error(
            "space",
            _(
                "Give a space with start and end, or window_start, window_end and "
                "duration_minutes for any space that fits."
            ),
            "required",
        )

    def _validate_direct(self, attrs, given):
        for name in FLEXIBLE_FIELDS:
            if name in given:
                raise error(
                    name,
                    _("Not with space: a request names a space or asks for any."),
                    "not_with_space",
                )
        for name in ("start", "end"):
            if attrs.get(name) is None:
                raise error(name, _("This field is required."), "required")
        space, start, end = attrs["space"], attrs["start"], attrs["end"]
        if end <= start:
            raise error("end", _("End must be after start."), "end_before_start")
        now = timezone.now()
        space_rules = availability.rules_of(space, start, end)
        activity = attrs.get("activity")
        breach = rules.breach(
            space_rules, start, end, attrs["party_size"], activity and activity.pk, now
        )
        if breach:
            raise rule_error(breach, space_rules, start, now)
        return attrs

    def _validate_flexible(self, attrs, given):
        for name in ("start", "end"):
            if name in given:
                raise error(
                    name,
                    _("Not with window_start: a flexible request has no times yet."),
                    "not_flexible",
                )
        for name in ("activity", "window_start", "window_end", "duration_minutes"):
            if attrs.get(name) is None:
                raise error(name, _("This field is required."), "required")
        attrs = self.validate_criteria(attrs)
        if attrs["window_end"] - timedelta(minutes=attrs["duration_minutes"]) < timezone.now():
            raise error("window_end", _("The window is over."), "window_over")
        return attrs


class AccessSerializer(serializers.Serializer):
    code = serializers.SerializerMethodField()
    valid_from = InstantField()
    valid_until = InstantField()
    state = serializers.CharField()

    def get_code(self, grant) -> str | None:
        # Null once the grant is withdrawn: the code is not kept after it.
        return grant.code or None


class BookingSerializer(ModelSerializer):
    # What a frontend shows of a booking without asking for its space and venue too; the
    # venue's zone, for its times on the venue's clock.
    space_name = serializers.CharField(source="space.name", read_only=True)
    venue_name = serializers.CharField(source="space.venue.name", read_only=True)
    timezone = serializers.CharField(source="space.venue.timezone", read_only=True)
    activity = serializers.SlugRelatedField(slug_field="slug", read_only=True, allow_null=True)
    access = serializers.SerializerMethodField()

    class Meta:
        model = Booking
        fields = [
            "id",
            "space",
            "space_name",
            "venue_name",
            "timezone",
            "activity",
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
