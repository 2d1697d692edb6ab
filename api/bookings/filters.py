import django_filters

from api.bookings.models import Booking
from api.query import InstantFilter


class BookingFilter(django_filters.FilterSet):
    """`from`/`to`: the bookings that overlap that time (today's: local midnight to midnight)."""

    from_ = InstantFilter(field_name="end", lookup_expr="gt", label="from")
    to = InstantFilter(field_name="start", lookup_expr="lt")

    class Meta:
        model = Booking
        fields = ["status", "space"]

    @classmethod
    def get_filters(cls):
        # `from` is a Python keyword: the filter is declared as from_ and read as from.
        filters = super().get_filters()
        filters["from"] = filters.pop("from_")
        return filters
