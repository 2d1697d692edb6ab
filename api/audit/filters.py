import django_filters

from api.audit.models import AuditEntry
from api.query import InstantFormField


class InstantFilter(django_filters.Filter):
    field_class = InstantFormField


class AuditFilter(django_filters.FilterSet):
    organisation = django_filters.NumberFilter()
    # `from` is a Python word: declared as from_, and named `from` below.
    from_ = InstantFilter(field_name="timestamp", lookup_expr="gte")
    to = InstantFilter(field_name="timestamp", lookup_expr="lt")

    class Meta:
        model = AuditEntry
        fields = ["organisation"]


AuditFilter.base_filters["from"] = AuditFilter.base_filters.pop("from_")
