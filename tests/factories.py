"""Test data: people, venues, spaces and bookings with sensible defaults."""

from datetime import UTC, timedelta

import factory
from django.utils import timezone
from rest_framework.authtoken.models import Token

from api.accounts.models import User
from api.bookings.models import Booking, BookingRequest
from api.catalogue.models import Activity, OpeningHours, Space, Venue
from api.organisations.models import Membership, Organisation

ALL_WEEK = [(weekday, 0, 24 * 60) for weekday in range(7)]


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User
        skip_postgeneration_save = True

    email = factory.Sequence(lambda n: f"person{n}@example.org")
    name = factory.Faker("name")
    password = factory.PostGenerationMethodCall("set_password", "correct horse battery")

    @factory.post_generation
    def token(self, create, extracted, **kwargs):
        if create:
            self.save()
            Token.objects.get_or_create(user=self)


class ActivityFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Activity
        django_get_or_create = ["slug"]

    slug = "band-rehearsal"
    name_fi = "Bändiharjoitus"
    name_sv = "Bandrepetition"
    name_en = "Band rehearsal"


class OrganisationFactory(factory.django.DjangoModelFactory):
    """The city's own organisation unless a name says otherwise (like the migrated venues')."""

    class Meta:
        model = Organisation
        django_get_or_create = ["name"]

    name = "City of Helsinki"
    kind = "city"


class MembershipFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Membership

    organisation = factory.SubFactory(OrganisationFactory)
    user = factory.SubFactory("tests.factories.UserFactory")
    role = "admin"


class VenueFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Venue

    organisation = factory.SubFactory(OrganisationFactory)

    name = factory.Sequence(lambda n: f"Kalasatama venue {n}")
    address = "Työpajankatu 8, 00580 Helsinki"
    district = "Kalasatama"
    latitude = 60.1875
    longitude = 24.9776
    timezone = "Europe/Helsinki"


class SpaceFactory(factory.django.DjangoModelFactory):
    """A music room open around the clock every day unless `opening_hours` says otherwise."""

    class Meta:
        model = Space
        skip_postgeneration_save = True

    venue = factory.SubFactory(VenueFactory)
    name = factory.Sequence(lambda n: f"Music room {n}")
    capacity = 12
    equipment = ["piano", "drums"]
    slot_minutes = 30
    min_duration_minutes = 60
    max_duration_minutes = 240
    lead_time_minutes = 60
    max_advance_days = 60
    buffer_minutes = 0

    @factory.post_generation
    def activities(self, create, extracted, **kwargs):
        if create:
            self.activities.set(extracted if extracted is not None else [ActivityFactory()])

    @factory.post_generation
    def opening_hours(self, create, extracted, **kwargs):
        if create:
            OpeningHours.objects.bulk_create(
                OpeningHours(space=self, weekday=w, opens=o, closes=c)
                for w, o, c in (ALL_WEEK if extracted is None else extracted)
            )


def z(moment) -> str:
    """An instant as the API shows it: RFC 3339 in UTC with Z."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def next_slot(hours_ahead: int = 3, minutes: int = 60):
    """A grid-aligned [start, end) a few hours from now."""
    start = (timezone.now() + timedelta(hours=hours_ahead)).replace(
        minute=0, second=0, microsecond=0
    )
    return start, start + timedelta(minutes=minutes)


class BookingRequestFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = BookingRequest

    user = factory.SubFactory(UserFactory)
    space = factory.SubFactory(SpaceFactory)
    start = factory.LazyFunction(lambda: next_slot()[0])
    end = factory.LazyAttribute(lambda o: o.start + timedelta(hours=1))
    party_size = 4


class BookingFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Booking

    user = factory.SubFactory(UserFactory)
    space = factory.SubFactory(SpaceFactory)
    start = factory.LazyFunction(lambda: next_slot()[0])
    end = factory.LazyAttribute(lambda o: o.start + timedelta(hours=1))
    party_size = 4
