"""Query strings, read one way by every view: times as the API reads every time, and a query
parameter that the view does not read refused by name rather than silently ignored."""

import django_filters
from django import forms
from django.utils.translation import gettext_lazy as _
from django_filters.rest_framework import DjangoFilterBackend
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework.exceptions import ErrorDetail, ValidationError

from api.fields import INSTANT_ERRORS, BadInstant, parse_instant


class InstantFormField(forms.DateTimeField):
    """A query-string time, read like every time in the API (api.fields.parse_instant)."""

    def to_python(self, value):
        if value in self.empty_values:
            return None
        try:
            return parse_instant(value)
        except BadInstant as error:
            raise forms.ValidationError(INSTANT_ERRORS[error.code], code=error.code) from None


@extend_schema_field(OpenApiTypes.DATETIME)
class InstantFilter(django_filters.Filter):
    field_class = InstantFormField


class KnownQueryParameters:
    """A view mixin: a GET with a query parameter the view does not read is a 400 that names
    it. A misspelt filter (`activty=choir`) would otherwise answer everything, unfiltered.

    The view reads its filterset's parameters, its paginator's on a list, and
    `query_parameters` (an attribute, or an `@action` keyword, for a view's own)."""

    query_parameters: frozenset[str] = frozenset()

    def initial(self, request, *args, **kwargs):
        super().initial(request, *args, **kwargs)
        if request.method not in ("GET", "HEAD"):
            return
        unknown = sorted(set(request.query_params) - self.known_query_parameters())
        if unknown:
            message = _("Unknown query parameter.")
            raise ValidationError(
                {name: [ErrorDetail(message, code="unknown_parameter")] for name in unknown}
            )

    def known_query_parameters(self) -> set[str]:
        known = set(self.query_parameters)
        if DjangoFilterBackend in self.filter_backends:
            filterset = DjangoFilterBackend().get_filterset_class(self, self.get_queryset())
            if filterset is not None:
                known |= set(filterset.base_filters)
        if getattr(self, "action", "list") == "list" and self.paginator is not None:
            paginator = self.paginator
            known |= {paginator.page_query_param, paginator.page_size_query_param} - {None}
        return known
