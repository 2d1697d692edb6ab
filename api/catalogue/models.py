from datetime import datetime, timedelta
from zoneinfo import ZoneInfo, available_timezones

from django.contrib.postgres.fields import ArrayField
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models

from api.catalogue import hours

MINUTES_PER_DAY = 24 * 60


def validate_timezone(value):
    if value not in available_timezones():
        raise ValidationError(f"{value!r} is not an IANA time zone.")


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
    name = models.CharField(max_length=200)
    address = models.CharField(max_length=300)
    district = models.CharField(max_length=100, db_index=True)
    latitude = models.FloatField(validators=[MinValueValidator(-90), MaxValueValidator(90)])
    longitude = models.FloatField(validators=[MinValueValidator(-180), MaxValueValidator(180)])
    timezone = models.CharField(
        max_length=64, default="Europe/Helsinki", validators=[validate_timezone]
    )

    class Meta:
        ordering = ["name"]

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
    min_duration_minutes = models.PositiveIntegerField(default=60)
    max_duration_minutes = models.PositiveIntegerField(default=240)
    lead_time_minutes = models.PositiveIntegerField(default=60)
    max_advance_days = models.PositiveIntegerField(default=60, validators=[MinValueValidator(1)])
    buffer_minutes = models.PositiveIntegerField(default=0)
    access_grace_before_minutes = models.PositiveIntegerField(default=5)
    access_grace_after_minutes = models.PositiveIntegerField(default=5)

    class Meta:
        ordering = ["venue__name", "name"]
        indexes = [models.Index(fields=["capacity"])]

    def __str__(self):
        return f"{self.venue.name} / {self.name}"

    def clean(self):
        if self.min_duration_minutes > self.max_duration_minutes:
            raise ValidationError({"min_duration_minutes": "Must not exceed max_duration_minutes."})
        for field in ("min_duration_minutes", "max_duration_minutes"):
            if getattr(self, field) % self.slot_minutes:
                raise ValidationError({field: "Must be a multiple of slot_minutes."})

    @property
    def buffer(self) -> timedelta:
        return timedelta(minutes=self.buffer_minutes)

    def opening_intervals(self, start: datetime, end: datetime) -> list[tuple[datetime, datetime]]:
        """The space's opening hours that meet [start, end), as merged UTC intervals."""
        return hours.opening_intervals(
            [(h.weekday, h.opens, h.closes) for h in self.opening_hours.all()],
            self.venue.zone,
            start,
            end,
        )

    def is_open(self, start: datetime, end: datetime) -> bool:
        return any(o <= start and end <= c for o, c in self.opening_intervals(start, end))

    def is_on_grid(self, instant: datetime) -> bool:
        local = instant.astimezone(self.venue.zone)
        minute = local.hour * 60 + local.minute
        return local.second == 0 and local.microsecond == 0 and minute % self.slot_minutes == 0


class OpeningHours(models.Model):
    """One weekly opening, in the venue's local wall-clock time (minutes after midnight)."""

    space = models.ForeignKey(Space, on_delete=models.CASCADE, related_name="opening_hours")
    weekday = models.PositiveSmallIntegerField(
        validators=[MaxValueValidator(6)], help_text="0 is Monday."
    )
    opens = models.PositiveSmallIntegerField(validators=[MaxValueValidator(MINUTES_PER_DAY - 1)])
    closes = models.PositiveSmallIntegerField(validators=[MaxValueValidator(MINUTES_PER_DAY)])

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
