from datetime import timedelta

import django_filters
from django import forms
from django.conf import settings
from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import extend_schema_field
from rest_framework.exceptions import ErrorDetail, ValidationError

from api.bookings.search import spaces_free_for
from api.catalogue import geo
from api.catalogue.models import Space
from api.query import InstantFilter


class PointFormField(forms.CharField):
    """`near=<lat>,<lon>`."""

    def to_python(self, value):
        value = super().to_python(value)
        if value in self.empty_values:
            return None
        try:
            return geo.parse_point(value)
        except ValueError as error:
            raise forms.ValidationError(str(error)) from None


@extend_schema_field({"type": "string", "example": "60.1875,24.9776"})
class PointFilter(django_filters.Filter):
    field_class = PointFormField


@extend_schema_field({"type": "array", "items": {"type": "string"}})
class EquipmentFilter(django_filters.Filter):
    """`equipment=piano&equipment=drums`: spaces that have all of them."""

    field_class = forms.CharField

    def filter(self, qs, value):
        names = self.parent.request.query_params.getlist(self.field_name) if self.parent else []
        return qs.filter(equipment__contains=names) if names else qs


class SpaceFilter(django_filters.FilterSet):
    activity = django_filters.CharFilter(field_name="activities__slug")
    min_capacity = django_filters.NumberFilter(field_name="capacity", lookup_expr="gte")
    district = django_filters.CharFilter(field_name="venue__district", lookup_expr="iexact")
    equipment = EquipmentFilter(field_name="equipment")
    free_from = InstantFilter(method="filter_later")
    free_to = InstantFilter(method="filter_later")
    near = PointFilter(method="filter_later", max_length=100)
    radius_km = django_filters.NumberFilter(
        method="filter_later", min_value=0.001, max_value=geo.MAX_RADIUS_KM
    )

    class Meta:
        model = Space
        fields = [
            "activity",
            "min_capacity",
            "district",
            "equipment",
            "free_from",
            "free_to",
            "near",
            "radius_km",
        ]

    def filter_later(self, queryset, name, value):
        # Applied together in filter_queryset: free_from with free_to, near with radius_km.
        return queryset

    def filter_queryset(self, queryset):
        queryset = self._near(super().filter_queryset(queryset))
        start, end = self.form.cleaned_data.get("free_from"), self.form.cleaned_data.get("free_to")
        if start is None and end is None:
            return queryset
        if start is None or end is None:
            missing = "free_from" if start is None else "free_to"
            message = _("Give free_from and free_to together.")
            raise ValidationError({missing: [ErrorDetail(message, code="required")]})
        if end <= start:
            message = _("Must be after free_from.")
            raise ValidationError({"free_to": [ErrorDetail(message, code="window_order")]})
        # As for availability: a longer interval asks for more work than any answer is worth.
        if end - start > timedelta(days=settings.AVAILABILITY_MAX_DAYS):
            message = _("At most %(days)d days after free_from.") % {
                "days": settings.AVAILABILITY_MAX_DAYS
            }
            raise ValidationError({"free_to": [ErrorDetail(message, code="window_too_long")]})
        return spaces_free_for(queryset, start, end)

    def _near(self, queryset):
        """Ordered by the distance from `near`, each with `distance_km`; within `radius_km`."""
        point, radius = self.form.cleaned_data.get("near"), self.form.cleaned_data.get("radius_km")
        if point is None:
            if radius is not None:
                message = ErrorDetail(_("Give near with radius_km."), code="radius_without_near")
                raise ValidationError({"radius_km": [message]})
            return queryset
        if radius is not None:
            queryset = geo.within_km(queryset, point, float(radius))
        return queryset.annotate(distance_km=geo.distance_km(point)).order_by("distance_km", "id")
