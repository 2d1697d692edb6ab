import secrets
from datetime import datetime, timedelta

from django.conf import settings
from django.core.exceptions import ValidationError as DjangoValidationError
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers
from rest_framework.exceptions import ErrorDetail

from api.access import services as access
from api.bookings import availability, rules, rules_cache, series
from api.bookings.choices import RejectReason, RequestStatus
from api.bookings.models import (
    Booking,
    BookingRequest,
    BookingSeries,
    ReleaseWindow,
    WaitlistEntry,
)
from api.bookings.search import SlotQuery
from api.catalogue import geo
from api.catalogue.models import MAX_DURATION_MINUTES, Activity, Space
from api.catalogue.serializers import PointField, WallClockField
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


class CachedSpaceField(serializers.PrimaryKeyRelatedField):
    """A space by its id, read with its venue and rules from the intake's cache
    (rules_cache.py) rather than the database."""

    def __init__(self, **kwargs):
        super().__init__(queryset=Space.objects.all(), **kwargs)

    def to_internal_value(self, data):
        if isinstance(data, bool):
            self.fail("incorrect_type", data_type=type(data).__name__)
        try:
            space_id = int(data)
        except (TypeError, ValueError, OverflowError):
            self.fail("incorrect_type", data_type=type(data).__name__)
        # No key is looked up, nor cached, for an id no space can have (a 64-bit key).
        space = rules_cache.space(space_id) if 0 < space_id < 2**63 else None
        if space is None:
            self.fail("does_not_exist", pk_value=data)
        return space


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


# What a request and a waitlist entry both show first: what was asked for.
ASKED_FOR = ("id", "status", "space", "start", "end", "party_size", "activity", *FLEXIBLE_FIELDS)


class BookingRequestSerializer(ModelSerializer, CriteriaFields):
    """A direct request (`space`, `start`, `end`) or a flexible one (the criteria instead)."""

    space = CachedSpaceField(required=False, allow_null=True)
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
    draw_at = serializers.SerializerMethodField()

    class Meta:
        model = BookingRequest
        fields = [
            *ASKED_FOR,
            "purpose",
            "booking",
            "reason",
            "draw_at",
            "created_at",
            "decided_at",
        ]
        read_only_fields = ["id", "status", "booking", "reason", "created_at", "decided_at"]

    def get_draw_at(self, booking_request) -> datetime | None:
        """When a request that arrived in a release window's collection is drawn."""
        window = booking_request.release_window
        return InstantField().to_representation(window.collect_until) if window else None

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
        space_rules = rules_cache.rules_of(space)
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


class OccurrenceSerializer(serializers.Serializer):
    date = serializers.SerializerMethodField()
    start = InstantField()
    end = InstantField()
    status = serializers.SerializerMethodField()
    booking = serializers.SerializerMethodField()
    reason = serializers.CharField(allow_null=True)

    @extend_schema_field(OpenApiTypes.DATE)
    def get_date(self, occurrence):
        # Its local date in the venue's zone.
        return occurrence.start.astimezone(occurrence.space.venue.zone).date()

    def get_status(self, occurrence) -> str:
        return series.status_of(occurrence)

    def get_booking(self, occurrence) -> int | None:
        booking = getattr(occurrence, "booking", None)
        return booking.pk if booking else None


class BookingSeriesSerializer(ModelSerializer):
    """A weekly series: a space on `weekdays` from `start_time` to `end_time` (local wall-clock
    times in the venue's zone) every week from `first_date` to `last_date`."""

    space = serializers.PrimaryKeyRelatedField(
        queryset=Space.objects.select_related("venue").prefetch_related(
            "opening_hours", "activities"
        )
    )
    weekdays = serializers.ListField(
        child=serializers.IntegerField(min_value=0, max_value=6), min_length=1, max_length=7
    )
    start_time = WallClockField(source="start_minute")
    end_time = WallClockField(source="end_minute")
    party_size = serializers.IntegerField(min_value=1, max_value=MAX_PARTY)
    activity = ActivityField(required=False, allow_null=True)
    status = serializers.SerializerMethodField()
    occurrences = OccurrenceSerializer(many=True, read_only=True)

    class Meta:
        model = BookingSeries
        fields = [
            "id",
            "status",
            "space",
            "weekdays",
            "start_time",
            "end_time",
            "first_date",
            "last_date",
            "party_size",
            "activity",
            "occurrences",
            "created_at",
            "cancelled_at",
        ]
        read_only_fields = ["id", "status", "occurrences", "created_at", "cancelled_at"]

    def get_status(self, instance) -> str:
        # The occurrences are prefetched by the view.
        pending = any(o.status == RequestStatus.PENDING for o in instance.occurrences.all())
        return "pending" if pending else "decided"

    def validate(self, attrs):
        """What a person can be told at once; each occurrence's own rules (a closure that day,
        further ahead than the space takes bookings, a clash) are the worker's, per occurrence."""
        attrs["weekdays"] = sorted(set(attrs["weekdays"]))
        if attrs["start_minute"] >= 24 * 60:
            raise error("start_time", _("Must be before 24:00."), "invalid")
        if attrs["end_minute"] <= attrs["start_minute"]:
            raise error("end_time", _("Must be after start_time."), "end_before_start")
        first, last = attrs["first_date"], attrs["last_date"]
        if last < first:
            raise error("last_date", _("Must not be before first_date."), "window_order")
        if (last - first).days > rules.SERIES_MAX_DAYS:
            raise error(
                "last_date",
                _("At most %(days)d days after first_date.") % {"days": rules.SERIES_MAX_DAYS},
                "window_too_long",
            )
        space = attrs["space"]
        found = rules.series_occurrences(
            space.venue.zone, attrs["weekdays"], attrs["start_minute"], attrs["end_minute"],
            first, last,
        )  # fmt: skip
        now = timezone.now()
        found = [occurrence for occurrence in found if occurrence[1] > now]
        if not found:
            raise error("first_date", _("No occurrence from now to last_date."), "no_occurrence")
        start, end = found[0][1:]
        space_rules = availability.rules_of(space, start, end)
        activity = attrs.get("activity")
        # The rules that hold alike for every week: the grid, the duration, the party, the
        # activity. (Breach names start and end; here they are start_time and end_time.)
        for concerns, reason in (
            ("start_time", rules.check_grid(space_rules, start)),
            ("end_time", rules.check_grid(space_rules, end)),
            ("end_time", rules.check_duration(space_rules, start, end)),
            ("party_size", rules.check_capacity(space_rules, attrs["party_size"])),
            ("activity", rules.check_activity(space_rules, activity and activity.pk)),
        ):
            if reason:
                raise rule_error(rules.Breach(reason, concerns), space_rules, start, now)
        return attrs


class WaitlistEntrySerializer(BookingRequestSerializer):
    """A place on the waitlist for a slot (`space`, `start`, `end`), or for any space that fits
    (the criteria of a flexible request); checked at once like a request."""

    purpose = None
    draw_at = None
    booking = serializers.PrimaryKeyRelatedField(read_only=True, allow_null=True)

    class Meta:
        model = WaitlistEntry
        fields = [
            *ASKED_FOR,
            "booking",
            "expires_at",
            "created_at",
            "decided_at",
        ]
        read_only_fields = ["id", "status", "booking", "expires_at", "created_at", "decided_at"]


class ReleaseWindowSerializer(ModelSerializer):
    """A booking period opened with a collection window (docs/fair-use.md). The seed is the
    operators' until the draw: anyone knowing it early could work out the order."""

    spaces = serializers.PrimaryKeyRelatedField(
        many=True, queryset=Space.objects.all(), required=False
    )
    # 31 bits: a seed no one sees before the draw needs no more, and every client reads it.
    seed = serializers.IntegerField(min_value=0, max_value=2**31 - 1, required=False)

    class Meta:
        model = ReleaseWindow
        fields = [
            "id",
            "venue",
            "spaces",
            "period_start",
            "period_end",
            "collect_from",
            "collect_until",
            "seed",
            "drawn_at",
        ]
        read_only_fields = ["id", "drawn_at"]

    def to_representation(self, instance):
        shown = super().to_representation(instance)
        request = self.context.get("request")
        operator = request is not None and request.user.is_staff
        if not operator and instance.drawn_at is None:
            shown["seed"] = None
        return shown

    def validate(self, attrs):
        if attrs["period_end"] <= attrs["period_start"]:
            raise error("period_end", _("Must be after period_start."), "window_order")
        if attrs["period_end"] - attrs["period_start"] > timedelta(days=rules.SERIES_MAX_DAYS):
            raise error(
                "period_end",
                _("At most %(days)d days after period_start.") % {"days": rules.SERIES_MAX_DAYS},
                "window_too_long",
            )
        if attrs["collect_until"] <= attrs["collect_from"]:
            raise error("collect_until", _("Must be after collect_from."), "window_order")
        if attrs["collect_until"] > attrs["period_start"]:
            raise error(
                "collect_until", _("The draw must come before period_start."), "draw_too_late"
            )
        for space in attrs.get("spaces", []):
            if space.venue_id != attrs["venue"].pk:
                raise error("spaces", _("Every space must be the venue's."), "not_the_venues")
        attrs.setdefault("seed", secrets.randbelow(2**31))
        return attrs


class DrawnSerializer(serializers.Serializer):
    request = serializers.CharField()
    user = serializers.IntegerField()
    outcome = serializers.CharField()
    booking = serializers.IntegerField(allow_null=True)


class DrawSerializer(serializers.Serializer):
    """A window's draw, for operators: the seed, the order drawn and each request's outcome
    (empty until the collection closes and the draw is made)."""

    id = serializers.IntegerField()
    seed = serializers.IntegerField()
    drawn_at = InstantField(allow_null=True)
    order = DrawnSerializer(many=True, source="draw")
