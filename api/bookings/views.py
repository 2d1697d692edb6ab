from django.conf import settings
from django.db.models import Prefetch
from django.utils.translation import gettext_lazy as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import APIException, ErrorDetail, ValidationError
from rest_framework.generics import GenericAPIView
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.throttling import UserRateThrottle

from api.bookings import search, series, services, waitlist
from api.bookings.filters import BookingFilter
from api.bookings.models import (
    Booking,
    BookingRequest,
    BookingSeries,
    ReleaseWindow,
    WaitlistEntry,
)
from api.bookings.serializers import (
    BookingRequestSerializer,
    BookingSerializer,
    BookingSeriesSerializer,
    DrawSerializer,
    OfferSerializer,
    ReleaseWindowSerializer,
    SlotSearchSerializer,
    WaitlistEntrySerializer,
)
from api.organisations import scoping
from api.organisations.choices import Role
from api.permissions import IsOperator, IsOperatorOrReadOnly, OperatorRole
from api.query import KnownQueryParameters

IDEMPOTENCY_KEY = OpenApiParameter(
    "Idempotency-Key",
    OpenApiTypes.STR,
    OpenApiParameter.HEADER,
    description="The same key from the same user with the same body returns the first request "
    "and creates nothing; with another body it is a 422.",
)


class IdempotencyKeyReused(APIException):
    status_code = status.HTTP_422_UNPROCESSABLE_ENTITY
    default_code = "idempotency_key_reused"

    def __init__(self):
        message = _("This Idempotency-Key was used for another request, with another body.")
        super().__init__({"Idempotency-Key": [ErrorDetail(message, code=self.default_code)]})


class BookingRequestThrottle(UserRateThrottle):
    scope = "booking-requests"

    def get_rate(self):
        # Read at each request rather than once at import, so the setting can change (tests do).
        return settings.BOOKING_REQUEST_RATE


class ThrottledCreate:
    """Asking for a booking, a series or a place on the waitlist counts against one rate per
    person."""

    def get_throttles(self):
        if self.action == "create" and settings.THROTTLING:
            return [BookingRequestThrottle()]
        return []


class BookingRequestViewSet(
    ThrottledCreate,
    KnownQueryParameters,
    mixins.CreateModelMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    viewsets.GenericViewSet,
):
    """One's own booking requests, newest first, and a new one."""

    serializer_class = BookingRequestSerializer
    filterset_fields = ["status"]

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return BookingRequest.objects.none()
        # Another person's request is a 404, not a 403: its existence is not shown either.
        return BookingRequest.objects.filter(user=self.request.user).select_related(
            "booking", "release_window"
        )

    @extend_schema(
        parameters=[IDEMPOTENCY_KEY],
        responses={
            202: BookingRequestSerializer,
            422: OpenApiResponse(description="The Idempotency-Key was used for another body."),
        },
    )
    def create(self, request, *args, **kwargs):
        key = request.headers.get("Idempotency-Key")
        if key is not None and not 0 < len(key) <= 255:
            message = ErrorDetail(_("Use 1 to 255 characters."), code="invalid")
            raise ValidationError({"Idempotency-Key": [message]})
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        try:
            booking_request = services.request_booking(
                request.user, idempotency_key=key, **serializer.validated_data
            )
        except services.KeyReused:
            raise IdempotencyKeyReused() from None
        location = f"/api/v1/booking-requests/{booking_request.id}/"
        # The validated serializer renders the answer too: its fields are built once.
        serializer.instance = booking_request
        return Response(
            serializer.data,
            status=status.HTTP_202_ACCEPTED,
            headers={"Location": location},
        )


class OwnerOrOperatorRole(OperatorRole):
    """A person's own bookings, and their organisations' by role (viewers read, managers
    cancel)."""

    def has_permission(self, request, view):
        return bool(request.user and request.user.is_authenticated)

    def has_object_permission(self, request, view, obj):
        return obj.user_id == request.user.pk or super().has_object_permission(request, view, obj)


class BookingViewSet(KnownQueryParameters, viewsets.ReadOnlyModelViewSet):
    serializer_class = BookingSerializer
    permission_classes = [OwnerOrOperatorRole]
    roles = {"cancel": Role.MANAGER}
    filterset_class = BookingFilter

    def get_queryset(self):
        bookings = Booking.objects.select_related("space__venue", "activity", "grant")
        if getattr(self, "swagger_fake_view", False):
            return bookings
        user = self.request.user
        return bookings.filter(user=user) | scoping.scoped(bookings, user)

    @extend_schema(request=None, responses=BookingSerializer)
    @action(detail=True, methods=["post"])
    def cancel(self, request, pk=None):
        booking = services.cancel_booking(self.get_object(), by=request.user)
        return Response(self.get_serializer(booking).data)


class SlotSearchView(KnownQueryParameters, GenericAPIView):
    """Concrete bookable offers for an activity, a party and a window, across every matching
    space, best first: the smallest space that fits, then the nearest, then the earliest."""

    permission_classes = [AllowAny]
    serializer_class = OfferSerializer
    filter_backends = []  # its query is SlotSearchSerializer's, not a queryset's filters

    def known_query_parameters(self):
        return super().known_query_parameters() | set(SlotSearchSerializer().fields)

    @extend_schema(parameters=[SlotSearchSerializer], responses=OfferSerializer(many=True))
    def get(self, request):
        criteria = SlotSearchSerializer(data=request.query_params)
        criteria.is_valid(raise_exception=True)
        page = self.paginate_queryset(search.search(criteria.query()))
        return self.get_paginated_response(OfferSerializer(page, many=True).data)


class BookingSeriesViewSet(
    ThrottledCreate,
    mixins.CreateModelMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    viewsets.GenericViewSet,
):
    """Weekly series, each occurrence decided like a request of its own; a person sees theirs."""

    serializer_class = BookingSeriesSerializer
    filterset_fields = []

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return BookingSeries.objects.none()
        occurrences = BookingRequest.objects.select_related("booking", "space__venue")
        return BookingSeries.objects.filter(user=self.request.user).prefetch_related(
            Prefetch("occurrences", queryset=occurrences.order_by("start"))
        )

    @extend_schema(responses={202: BookingSeriesSerializer})
    def create(self, request, *args, **kwargs):
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        made = series.request_series(request.user, **serializer.validated_data)
        made = self.get_queryset().get(pk=made.pk)
        return Response(
            self.get_serializer(made).data,
            status=status.HTTP_202_ACCEPTED,
            headers={"Location": f"/api/v1/booking-series/{made.pk}/"},
        )

    @extend_schema(request=None, responses=BookingSeriesSerializer)
    @action(detail=True, methods=["post"])
    def cancel(self, request, pk=None):
        """Cancels every occurrence that has not started; one occurrence: cancel its booking."""
        series.cancel_series(self.get_object())
        return Response(self.get_serializer(self.get_queryset().get(pk=pk)).data)


class WaitlistViewSet(
    ThrottledCreate,
    mixins.CreateModelMixin,
    mixins.ListModelMixin,
    mixins.DestroyModelMixin,
    viewsets.GenericViewSet,
):
    """A person's places on the waitlist; a freed slot goes to the first that can take it."""

    serializer_class = WaitlistEntrySerializer
    filterset_fields = ["status"]

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return WaitlistEntry.objects.none()
        return WaitlistEntry.objects.filter(user=self.request.user).select_related("booking")

    def perform_create(self, serializer):
        serializer.instance = waitlist.join(self.request.user, **serializer.validated_data)


class ReleaseWindowViewSet(
    mixins.CreateModelMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    viewsets.GenericViewSet,
):
    """Booking periods opened with a collection window: anyone reads them, operators open
    them, and operators read each draw."""

    queryset = ReleaseWindow.objects.prefetch_related("spaces")
    serializer_class = ReleaseWindowSerializer
    permission_classes = [IsOperatorOrReadOnly]
    filterset_fields = ["venue"]

    @extend_schema(responses=DrawSerializer)
    @action(detail=True, permission_classes=[IsOperator])
    def draw(self, request, pk=None):
        return Response(DrawSerializer(self.get_object()).data)
