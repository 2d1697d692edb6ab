from datetime import timedelta

from django.http import HttpResponse
from django.shortcuts import get_object_or_404
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import viewsets
from rest_framework.decorators import action
from rest_framework.negotiation import BaseContentNegotiation
from rest_framework.permissions import AllowAny
from rest_framework.renderers import JSONRenderer
from rest_framework.views import APIView

from api.accounts.models import User, calendar_token_digest
from api.bookings.choices import BookingStatus
from api.bookings.models import Booking, BookingSeries
from api.catalogue.models import Space
from api.notifications import calendars, services
from api.notifications.choices import DeliveryState
from api.notifications.models import Webhook
from api.notifications.serializers import WebhookDeliverySerializer, WebhookSerializer
from api.organisations.choices import Role
from api.permissions import OperatorRole, ScopedQueryset

# A feed shows the past month and the coming year (series may reach past max_advance_days).
FEED_BEHIND, FEED_AHEAD = timedelta(days=30), timedelta(days=366)
ICS = {(200, "text/calendar"): OpenApiResponse(OpenApiTypes.STR, description="iCalendar")}


class WebhookViewSet(ScopedQueryset, viewsets.ModelViewSet):
    queryset = Webhook.objects.all()
    serializer_class = WebhookSerializer
    permission_classes = [OperatorRole]
    # An organisation's admins look after its webhooks (their secrets, what they are sent).
    roles = {"list": Role.ADMIN, "retrieve": Role.ADMIN, "deliveries": Role.ADMIN}
    http_method_names = ["get", "post", "patch", "delete", "head", "options"]

    def perform_create(self, serializer):
        serializer.save(created_by=self.request.user)

    @extend_schema(responses=WebhookDeliverySerializer(many=True))
    @action(detail=True)
    def deliveries(self, request, pk=None):
        """The delivery log, newest first; `?state=` narrows it."""
        deliveries = self.get_object().deliveries.order_by("-created_at", "-id")
        state = request.query_params.get("state")
        if state in DeliveryState.values:
            deliveries = deliveries.filter(state=state)
        page = self.paginate_queryset(deliveries)
        return self.get_paginated_response(WebhookDeliverySerializer(page, many=True).data)


class ErrorsAsJson(BaseContentNegotiation):
    """A calendar client asks for text/calendar; the calendar is one, and an error is JSON."""

    def select_renderer(self, request, renderers, format_suffix=None):
        return JSONRenderer(), JSONRenderer.media_type

    def select_parser(self, request, parsers):
        return parsers[0] if parsers else None


def ics_response(body: bytes, filename: str, cache: str) -> HttpResponse:
    response = HttpResponse(body, content_type="text/calendar; charset=utf-8")
    response["Content-Disposition"] = f'inline; filename="{filename}"'
    response["Cache-Control"] = cache
    return response


class CalendarView(APIView):
    content_negotiation_class = ErrorsAsJson


class SpaceCalendarView(CalendarView):
    """When the space is taken, for a calendar subscription: no names, no purposes."""

    permission_classes = [AllowAny]

    @extend_schema(responses=ICS)
    def get(self, request, pk):
        space = get_object_or_404(Space.objects.select_related("venue"), pk=pk)
        now = timezone.now()
        bookings = Booking.objects.filter(
            space=space,
            status__in=BookingStatus.live(),
            end__gte=now - FEED_BEHIND,
            start__lte=now + FEED_AHEAD,
        ).select_related("space__venue")
        body = calendars.space_busy_ics(space, bookings)
        return ics_response(body, f"space-{space.pk}.ics", "public, max-age=60")


class BookingCalendarView(CalendarView):
    """One booking, with its door code: for its owner only (anyone else gets 404)."""

    @extend_schema(responses=ICS)
    def get(self, request, pk):
        booking = get_object_or_404(
            Booking.objects.select_related("space__venue", "user"), pk=pk, user=request.user
        )
        body = calendars.booking_ics(booking, services.access_code(booking))
        return ics_response(body, f"booking-{booking.pk}.ics", "private, no-store")


class SeriesCalendarView(CalendarView):
    """A weekly series as one recurring event, without what was not booked: for its owner."""

    @extend_schema(responses=ICS)
    def get(self, request, pk):
        series = get_object_or_404(
            BookingSeries.objects.select_related("space__venue", "user"), pk=pk, user=request.user
        )
        occurrences = series.occurrences.select_related("booking").order_by("start")
        body = calendars.series_ics(series, list(occurrences))
        return ics_response(body, f"series-{series.pk}.ics", "private, no-store")


class PersonalCalendarView(CalendarView):
    """A person's bookings behind the secret in the URL (rotated at auth/me/calendar-token/)."""

    permission_classes = [AllowAny]
    authentication_classes = []

    @extend_schema(responses=ICS, auth=[])
    def get(self, request, token):
        user = get_object_or_404(User, calendar_token=calendar_token_digest(token), is_active=True)
        bookings = user.bookings.filter(
            status__in=BookingStatus.live(),
            end__gte=timezone.now() - FEED_BEHIND,
            start__lte=timezone.now() + FEED_AHEAD,
        ).select_related("space__venue", "user")
        body = calendars.personal_ics(user, bookings)
        return ics_response(body, "flexispace.ics", "private, max-age=300")
