"""Distances from a point to venues: PostgreSQL's earthdistance (on cube), with a GiST index.

`near` is given as "<lat>,<lon>" wherever the API takes it (parse_point); a radius search keeps
the venues inside the bounding box of the circle (which the index answers) and then those truly
inside it.
"""

import math

from django.db import models
from django.utils.translation import gettext_lazy as _

MAX_RADIUS_KM = 20_000.0  # half the earth's circumference: every place is within it


class EarthPoint(models.Func):
    """A point on earthdistance's sphere; `EarthPoint("latitude", "longitude")` is indexed."""

    function = "ll_to_earth"
    arity = 2
    output_field = models.Field()


class EarthDistance(models.Func):
    """Metres along the sphere between two EarthPoints."""

    function = "earth_distance"
    arity = 2
    output_field = models.FloatField()


class InEarthBox(models.Func):
    """True for a point inside the cube that bounds a circle (centre, radius in metres)."""

    arity = 3
    output_field = models.BooleanField()

    def as_sql(self, compiler, connection, **extra):
        (centre, centre_params), (radius, radius_params), (point, point_params) = (
            compiler.compile(expression) for expression in self.source_expressions
        )
        return (
            f"(earth_box({centre}, {radius}) @> {point})",
            [*centre_params, *radius_params, *point_params],
        )


def parse_point(text: str) -> tuple[float, float]:
    """'60.1875,24.9776' → (60.1875, 24.9776); ValueError with the reason otherwise."""
    parts = text.split(",")
    if len(parts) != 2:
        raise ValueError(_("Use <latitude>,<longitude>, e.g. 60.1875,24.9776."))
    try:
        latitude, longitude = (float(part) for part in parts)
    except ValueError:
        raise ValueError(_("Use <latitude>,<longitude>, e.g. 60.1875,24.9776.")) from None
    if not (math.isfinite(latitude) and -90 <= latitude <= 90):
        raise ValueError(_("The latitude must be from -90 to 90."))
    if not (math.isfinite(longitude) and -180 <= longitude <= 180):
        raise ValueError(_("The longitude must be from -180 to 180."))
    return latitude, longitude


def format_point(latitude: float, longitude: float) -> str:
    return f"{latitude:g},{longitude:g}"


def distance_km(point: tuple[float, float], venue: str = "venue__") -> models.Expression:
    """Kilometres from `point` to the venue (reached from the queried model by `venue`)."""
    return EarthDistance(_centre(point), _venue_point(venue)) / models.Value(1000.0)


def within_km(
    queryset: models.QuerySet, point: tuple[float, float], radius_km: float, venue: str = "venue__"
) -> models.QuerySet:
    """The rows whose venue lies within `radius_km` of `point`: the bounding box first (the
    index answers it), then the true distance."""
    centre, metres = _centre(point), radius_km * 1000.0
    return (
        queryset.filter(InEarthBox(centre, models.Value(metres), _venue_point(venue)))
        .alias(earth_metres=EarthDistance(centre, _venue_point(venue)))
        .filter(earth_metres__lte=metres)
    )


def _centre(point: tuple[float, float]) -> EarthPoint:
    return EarthPoint(models.Value(point[0]), models.Value(point[1]))


def _venue_point(venue: str) -> EarthPoint:
    return EarthPoint(f"{venue}latitude", f"{venue}longitude")
