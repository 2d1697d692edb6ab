from datetime import timedelta

from django import forms
from django.conf import settings
from django.utils.translation import gettext_lazy as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import mixins, serializers, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import ErrorDetail
from rest_framework.generics import get_object_or_404
from rest_framework.permissions import SAFE_METHODS, AllowAny
from rest_framework.response import Response

from api.bookings.availability import free_intervals
from api.catalogue.filters import SpaceFilter
from api.catalogue.models import Activity, Closure, ExtraOpening, Space, Venue
from api.catalogue.serializers import (
    ActivitySerializer,
    AvailabilitySerializer,
    ClosureSerializer,
    ExtraOpeningSerializer,
    SpaceSerializer,
    VenueSerializer,
)
from api.organisations import scoping
from api.organisations.choices import Role
from api.permissions import IsOperatorOrReadOnly, OperatorRoleOrReadOnly, ScopedQueryset
from api.query import InstantFormField, KnownQueryParameters


class ActivityViewSet(
    KnownQueryParameters, mixins.ListModelMixin, mixins.CreateModelMixin, viewsets.GenericViewSet
):
    queryset = Activity.objects.all()
    serializer_class = ActivitySerializer
    permission_classes = [IsOperatorOrReadOnly]
    pagination_class = None  # a short list, given whole


class VenueViewSet(
    KnownQueryParameters,
    ScopedQueryset,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    viewsets.GenericViewSet,
):
    queryset = Venue.objects.all()
    serializer_class = VenueSerializer
    permission_classes = [OperatorRoleOrReadOnly]
    public_reads = True


class SpaceViewSet(
    KnownQueryParameters,
    ScopedQueryset,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    mixins.UpdateModelMixin,
    viewsets.GenericViewSet,
):
    queryset = Space.objects.select_related("venue", "lock").prefetch_related(
        "activities", "opening_hours"
    )
    serializer_class = SpaceSerializer
    permission_classes = [OperatorRoleOrReadOnly]
    public_reads = True
    roles = {"create": Role.MANAGER, "partial_update": Role.MANAGER}
    filterset_class = SpaceFilter
    http_method_names = ["get", "post", "patch", "head", "options"]

    @extend_schema(
        parameters=[
            OpenApiParameter("from", OpenApiTypes.DATETIME, required=True),
            OpenApiParameter("to", OpenApiTypes.DATETIME, required=True),
        ],
        responses=AvailabilitySerializer,
    )
    @action(
        detail=True,
        permission_classes=[AllowAny],
        filterset_class=None,
        query_parameters=frozenset({"from", "to"}),
    )
    def availability(self, request, pk=None):
        space = self.get_object()
        start, end = _window(request.query_params)
        body = {
            "space": space.pk,
            "free": [{"start": s, "end": e} for s, e in free_intervals(space, start, end)],
        }
        return Response(AvailabilitySerializer(body).data)


class DatedHoursViewSet(
    KnownQueryParameters,
    mixins.ListModelMixin,
    mixins.CreateModelMixin,
    mixins.DestroyModelMixin,
    viewsets.GenericViewSet,
):
    """Closures or extra openings of one space or venue (`owner`, from the URL): anyone reads
    them, managers of its organisation add and remove them."""

    permission_classes = [OperatorRoleOrReadOnly]
    roles = {"create": Role.MANAGER, "destroy": Role.MANAGER}
    filterset_class = None
    model: type
    owner_model: type
    owner: str

    def get_owner(self):
        if getattr(self, "swagger_fake_view", False):
            return None
        queryset = self.owner_model.objects.all()
        if self.request.method not in SAFE_METHODS:
            queryset = scoping.scoped(queryset, self.request.user)
        owner = get_object_or_404(queryset, pk=self.kwargs[f"{self.owner}_pk"])
        self.check_object_permissions(self.request, owner)
        return owner

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return self.model.objects.none()
        return self.model.objects.filter(**{self.owner: self.get_owner()})

    def perform_create(self, serializer):
        serializer.save(**{self.owner: self.get_owner()})


class SpaceClosureViewSet(DatedHoursViewSet):
    serializer_class = ClosureSerializer
    model, owner_model, owner = Closure, Space, "space"


class VenueClosureViewSet(DatedHoursViewSet):
    serializer_class = ClosureSerializer
    model, owner_model, owner = Closure, Venue, "venue"


class ExtraOpeningViewSet(DatedHoursViewSet):
    serializer_class = ExtraOpeningSerializer
    model, owner_model, owner = ExtraOpening, Space, "space"


def _window(params):
    """The `from`/`to` pair of an availability query, checked field by field."""
    errors, values = {}, {}
    for name in ("from", "to"):
        try:
            values[name] = InstantFormField().clean(params.get(name))
        except forms.ValidationError as error:
            errors[name] = [ErrorDetail(message, code=error.code) for message in error.messages]
    if not errors and values["to"] <= values["from"]:
        errors["to"] = [ErrorDetail(_("Must be after from."), code="window_order")]
    if not errors and values["to"] - values["from"] > timedelta(
        days=settings.AVAILABILITY_MAX_DAYS
    ):
        message = _("At most %(days)d days after from.") % {"days": settings.AVAILABILITY_MAX_DAYS}
        errors["to"] = [ErrorDetail(message, code="window_too_long")]
    if errors:
        raise serializers.ValidationError(errors)
    return values["from"], values["to"]
