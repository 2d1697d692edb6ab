from datetime import timedelta

from django import forms
from django.conf import settings
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import mixins, serializers, viewsets
from rest_framework.decorators import action
from rest_framework.permissions import AllowAny
from rest_framework.response import Response

from api.bookings.availability import free_intervals
from api.catalogue.filters import InstantFormField, SpaceFilter
from api.catalogue.models import Activity, Space, Venue
from api.catalogue.serializers import (
    ActivitySerializer,
    AvailabilitySerializer,
    SpaceSerializer,
    VenueSerializer,
)
from api.permissions import IsOperatorOrReadOnly


class ActivityViewSet(mixins.ListModelMixin, mixins.CreateModelMixin, viewsets.GenericViewSet):
    queryset = Activity.objects.all()
    serializer_class = ActivitySerializer
    permission_classes = [IsOperatorOrReadOnly]
    pagination_class = None  # a short list, given whole


class VenueViewSet(
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    viewsets.GenericViewSet,
):
    queryset = Venue.objects.all()
    serializer_class = VenueSerializer
    permission_classes = [IsOperatorOrReadOnly]


class SpaceViewSet(
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    mixins.UpdateModelMixin,
    viewsets.GenericViewSet,
):
    queryset = Space.objects.select_related("venue").prefetch_related("activities", "opening_hours")
    serializer_class = SpaceSerializer
    permission_classes = [IsOperatorOrReadOnly]
    filterset_class = SpaceFilter
    http_method_names = ["get", "post", "patch", "head", "options"]

    @extend_schema(
        parameters=[
            OpenApiParameter("from", OpenApiTypes.DATETIME, required=True),
            OpenApiParameter("to", OpenApiTypes.DATETIME, required=True),
        ],
        responses=AvailabilitySerializer,
    )
    @action(detail=True, permission_classes=[AllowAny], filterset_class=None)
    def availability(self, request, pk=None):
        space = self.get_object()
        start, end = _window(request.query_params)
        body = {
            "space": space.pk,
            "free": [{"start": s, "end": e} for s, e in free_intervals(space, start, end)],
        }
        return Response(AvailabilitySerializer(body).data)


def _window(params):
    """The `from`/`to` pair of an availability query, checked field by field."""
    errors, values = {}, {}
    for name in ("from", "to"):
        try:
            values[name] = InstantFormField().clean(params.get(name))
        except forms.ValidationError as error:
            errors[name] = error.messages
    if not errors and values["to"] <= values["from"]:
        errors["to"] = ["Must be after from."]
    if not errors and values["to"] - values["from"] > timedelta(
        days=settings.AVAILABILITY_MAX_DAYS
    ):
        errors["to"] = [f"At most {settings.AVAILABILITY_MAX_DAYS} days after from."]
    if errors:
        raise serializers.ValidationError(errors)
    return values["from"], values["to"]
