from datetime import timedelta
from zoneinfo import ZoneInfo, available_timezones

from django.contrib.postgres.fields import ArrayField, DateRangeField, RangeBoundary
from django.contrib.postgres.indexes import GistIndex
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils.translation import gettext_lazy as _

from api.catalogue import geo, hours
from api.organisations.models import Organisation

MINUTES_PER_DAY = 24 * 60
# How far ahead a space may take bookings, and how long one may be, at most: so every booking
# lies within a few years of now, and the rules' date arithmetic never leaves the calendar.
MAX_ADVANCE_DAYS = 3660
MAX_DURATION_MINUTES = 31 * MINUTES_PER_DAY


def validate_timezone(value):
    if value not in available_timezones():
        raise ValidationError(
            _("%(value)r is not an IANA time zone."), code="invalid", params={"value": value}
        )


class Activity(models.Model):
    slug = models.SlugField(max_length=60, unique=True)
    name_fi = models.CharField(max_length=100)
    name_sv = models.CharField(max_length=100)
    name_en = models.CharField(max_length=100)

    class Meta:
        ordering = ["slug"]
        verbose_name_plural = "activities"

    def __str__(self):
        return self.slug


class Venue(models.Model):
    organisation = models.ForeignKey(Organisation, on_delete=models.PROTECT, related_name="venues")
    name = models.CharField(max_length=200)
    address = models.CharField(max_length=300)
    district = models.CharField(max_length=100, db_index=True)
    latitude = models.FloatField(validators=[MinValueValidator(-90), MaxValueValidator(90)])
    longitude = models.FloatField(validators=[MinValueValidator(-180), MaxValueValidator(180)])
    timezone = models.CharField(
        max_length=64, default="Europe/Helsinki", validators=[validate_timezone]
    )
    # Fair use (docs/fair-use.md): the venue's own values, or NULL for the defaults in settings.
    max_active_bookings = models.PositiveIntegerField(
        null=True, blank=True, validators=[MinValueValidator(1)]
    )
    max_weekly_hours = models.PositiveIntegerField(
        null=True, blank=True, validators=[MinValueValidator(1)]
    )
    no_show_after_minutes = models.PositiveIntegerField(null=True, blank=True)
    no_show_limit = models.PositiveIntegerField(
        null=True, blank=True, validators=[MinValueValidator(1)]
    )
    no_show_period_days = models.PositiveIntegerField(
        null=True, blank=True, validators=[MinValueValidator(1)]
    )
    pause_days = models.PositiveIntegerField(
        null=True, blank=True, validators=[MinValueValidator(1)]
    )

    organisation_path = "organisation"

    class Meta:
        ordering = ["name"]
        indexes = [
            # Distances and radius searches from `near` (earthdistance; catalogue 0002).
            GistIndex(geo.EarthPoint("latitude", "longitude"), name="venue_earth_point"),
        ]

    def __str__(self):
        return self.name

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)


class Space(models.Model):
    venue = models.ForeignKey(Venue, on_delete=models.PROTECT, related_name="spaces")
    name = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    capacity = models.PositiveIntegerField(validators=[MinValueValidator(1)])
    activities = models.ManyToManyField(Activity, related_name="spaces", blank=True)
    equipment = ArrayField(models.CharField(max_length=60), default=list, blank=True)
    slot_minutes = models.PositiveIntegerField(
        default=30, validators=[MinValueValidator(5), MaxValueValidator(MINUTES_PER_DAY)]
    )
    min_duration_minutes = models.PositiveIntegerField(
        default=60, validators=[MaxValueValidator(MAX_DURATION_MINUTES)]
    )
    max_duration_minutes = models.PositiveIntegerField(
        default=240, validators=[MaxValueValidator(MAX_DURATION_MINUTES)]
    )
    lead_time_minutes = models.PositiveIntegerField(default=60)
    max_advance_days = models.PositiveIntegerField(
        default=60, validators=[MinValueValidator(1), MaxValueValidator(MAX_ADVANCE_DAYS)]
    )
    buffer_minutes = models.PositiveIntegerField(default=0)
    access_grace_before_minutes = models.PositiveIntegerField(default=5)
    access_grace_after_minutes = models.PositiveIntegerField(default=5)

    organisation_path = "venue__organisation"

    class Meta:
        ordering = ["venue__name", "name"]
        indexes = [models.Index(fields=["capacity"])]

    def __str__(self):
        return f"{self.venue.name} / {self.name}"

    def clean(self):
        if self.min_duration_minutes > self.max_duration_minutes:
            raise ValidationError(
                {"min_duration_minutes": _("Must not exceed max_duration_minutes.")}
            )
        for field in ("min_duration_minutes", "max_duration_minutes"):
            if getattr(self, field) % self.slot_minutes:
                raise ValidationError({field: _("Must be a multiple of slot_minutes.")})

    @property
    def buffer(self) -> timedelta:
        return timedelta(minutes=self.buffer_minutes)


class OpeningHours(models.Model):
    """One weekly opening, in the venue's local wall-clock time (minutes after midnight)."""

    space = models.ForeignKey(Space, on_delete=models.CASCADE, related_name="opening_hours")
    weekday = models.PositiveSmallIntegerField(
        validators=[MaxValueValidator(6)], help_text="0 is Monday."
    )
    opens = models.PositiveSmallIntegerField(validators=[MaxValueValidator(MINUTES_PER_DAY - 1)])
    closes = models.PositiveSmallIntegerField(validators=[MaxValueValidator(MINUTES_PER_DAY)])

    organisation_path = "space__venue__organisation"

    class Meta:
        ordering = ["weekday", "opens"]
        verbose_name_plural = "opening hours"
        constraints = [
            models.CheckConstraint(
                condition=models.Q(closes__gt=models.F("opens")), name="opening_hours_closes_after"
            )
        ]

    def __str__(self):
        return (
            f"{self.weekday} {hours.format_minute(self.opens)}-{hours.format_minute(self.closes)}"
        )


class LocalDates(models.Func):
    """A closure's local dates as one range, both ends included: what its GiST index holds."""

    function = "daterange"
    output_field = DateRangeField()

    def __init__(self):
        super().__init__("first_date", "last_date", RangeBoundary(True, True))


class Closure(models.Model):
    """Closed on the local dates first_date to last_date, all day or only between opens and
    closes: of one space, or of every space of a venue. Honoured by every booking rule; a
    confirmed booking it overlaps stays, and is shown in /api/v1/alerts/ until resolved."""

    space = models.ForeignKey(
        Space, on_delete=models.CASCADE, null=True, blank=True, related_name="closures"
    )
    venue = models.ForeignKey(
        Venue, on_delete=models.CASCADE, null=True, blank=True, related_name="closures"
    )
    first_date = models.DateField()
    last_date = models.DateField()
    opens = models.PositiveSmallIntegerField(
        null=True, blank=True, validators=[MaxValueValidator(MINUTES_PER_DAY - 1)]
    )
    closes = models.PositiveSmallIntegerField(
        null=True, blank=True, validators=[MaxValueValidator(MINUTES_PER_DAY)]
    )
    reason_fi = models.CharField(max_length=200)
    reason_sv = models.CharField(max_length=200)
    reason_en = models.CharField(max_length=200)
    created_at = models.DateTimeField(auto_now_add=True)

    organisation_path = ("space__venue__organisation", "venue__organisation")

    class Meta:
        ordering = ["first_date", "id"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(space__isnull=False, venue__isnull=True)
                | models.Q(space__isnull=True, venue__isnull=False),
                name="closure_of_a_space_or_a_venue",
            ),
            models.CheckConstraint(
                condition=models.Q(last_date__gte=models.F("first_date")),
                name="closure_last_date_not_before_first",
            ),
            models.CheckConstraint(
                condition=models.Q(opens__isnull=True, closes__isnull=True)
                # (closes > NULL is NULL, which a CHECK lets through: hence both named.)
                | models.Q(opens__isnull=False, closes__isnull=False, closes__gt=models.F("opens")),
                name="closure_hours_both_or_neither",
            ),
        ]
        indexes = [GistIndex(LocalDates(), name="closure_local_dates")]

    def __str__(self):
        return f"{self.space or self.venue}: {self.first_date}..{self.last_date}"

    def clean(self):
        if (self.space_id is None) == (self.venue_id is None):
            raise ValidationError(_("Give a space or a venue."))
        if self.first_date and self.last_date and self.last_date < self.first_date:
            raise ValidationError({"last_date": _("Must not be before first_date.")})
        if (self.opens is None) != (self.closes is None):
            raise ValidationError({"closes": _("Give opens and closes together, or neither.")})
        if self.opens is not None and self.closes <= self.opens:
            raise ValidationError({"closes": _("Must be after opens.")})

    @property
    def hours(self) -> tuple:
        """As the rules take it: (first_date, last_date, opens, closes)."""
        return (self.first_date, self.last_date, self.opens, self.closes)


class ExtraOpening(models.Model):
    """Extra local hours on one date, outside the space's weekly pattern."""

    space = models.ForeignKey(Space, on_delete=models.CASCADE, related_name="extra_openings")
    date = models.DateField()
    opens = models.PositiveSmallIntegerField(validators=[MaxValueValidator(MINUTES_PER_DAY - 1)])
    closes = models.PositiveSmallIntegerField(validators=[MaxValueValidator(MINUTES_PER_DAY)])

    organisation_path = "space__venue__organisation"

    class Meta:
        ordering = ["date", "opens"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(closes__gt=models.F("opens")), name="extra_opening_closes_after"
            )
        ]
        indexes = [models.Index(fields=["date", "space"])]

    def __str__(self):
        return f"{self.date} {hours.format_minute(self.opens)}-{hours.format_minute(self.closes)}"

    def clean(self):
        if self.opens is not None and self.closes is not None and self.closes <= self.opens:
            raise ValidationError({"closes": _("Must be after opens.")})

    @property
    def hours(self) -> tuple:
        """As the rules take it: (date, opens, closes)."""
        return (self.date, self.opens, self.closes)
