"""Kalasatama-style demo data: venues, spaces, activities, people, and a booking about to start.

Two organisations run the venues, each with its own people (ORGANISATIONS): the city's youth
services (the school's gym, the library's music room, the community hall) and a housing
company (its club room); the city-wide operator sees both.

The library's music room (band rehearsal, up to 8) has a lock too, so that a band of six
looking for a Thursday evening finds a slot, books it with a flexible request and gets a door
code (the README shows how); the school is closed over Christmas.

Idempotent: running it again updates the catalogue in place and adds a new demo booking only
when the last one has ended.
"""

from datetime import date, timedelta

from django.core.management.base import BaseCommand
from django.db import transaction
from django.utils import timezone

from api.access.demo import enrol_demo_lock
from api.accounts.models import User
from api.accounts.operators import make_operator
from api.bookings import services
from api.bookings.choices import RequestStatus
from api.bookings.models import BookingRequest
from api.catalogue.models import Activity, Closure, OpeningHours, Space, Venue
from api.organisations.models import Membership, Organisation

YOUTH = "Helsinki Youth Services"
HOUSING = "As Oy Kalasataman Helmi"
# Each organisation, its kind, and its people: (email, password, name, role).
ORGANISATIONS = {
    YOUTH: (
        "city",
        [
            ("youth-admin@flexispace.example", "youth-admin-passphrase", "Yrjö Admin", "admin"),
            (
                "youth-manager@flexispace.example",
                "youth-manager-passphrase",
                "Ylva Manager",
                "manager",
            ),
            ("youth-viewer@flexispace.example", "youth-viewer-passphrase", "Ylli Viewer", "viewer"),
        ],
    ),
    HOUSING: (
        "housing",
        [
            (
                "caretaker@flexispace.example",
                "caretaker-passphrase",
                "Heikki Caretaker",
                "admin",
            ),
        ],
    ),
}

ACTIVITIES = {
    "dance": ("Tanssi", "Dans", "Dance"),
    "band-rehearsal": ("Bändiharjoitus", "Bandrepetition", "Band rehearsal"),
    "choir": ("Kuoro", "Kör", "Choir"),
    "meeting": ("Kokous", "Möte", "Meeting"),
    "yoga": ("Jooga", "Yoga", "Yoga"),
    "crafts": ("Käsityöt", "Hantverk", "Crafts"),
}

WEEKDAY_EVENINGS = [(d, 16 * 60, 22 * 60) for d in range(5)] + [(5, 10 * 60, 20 * 60)]
OFFICE_HOURS = [(d, 17 * 60, 21 * 60) for d in range(5)]
ALL_DAY = [(d, 0, 24 * 60) for d in range(7)]

VENUES = [
    {
        "organisation": YOUTH,
        "name": "Kalasatama school",
        "address": "Polariksenkatu 1, 00540 Helsinki",
        "latitude": 60.1868,
        "longitude": 24.9772,
        "spaces": [
            ("Gym", 40, ["dance", "yoga"], ["mirrors", "sound system"], WEEKDAY_EVENINGS, {}),
        ],
    },
    {
        "organisation": YOUTH,
        "name": "Kalasatama library",
        "address": "Työpajankatu 2, 00580 Helsinki",
        "latitude": 60.1882,
        "longitude": 24.9767,
        "spaces": [
            (
                "Music room",
                8,
                ["band-rehearsal", "choir"],
                ["piano", "drums"],
                WEEKDAY_EVENINGS,
                {},
            ),
        ],
    },
    {
        "organisation": YOUTH,
        "name": "Kalasatama community hall",
        "address": "Capellan puistotie 10, 00540 Helsinki",
        "latitude": 60.1851,
        "longitude": 24.9819,
        "spaces": [
            ("Hall", 80, ["dance", "choir", "meeting"], ["stage", "chairs"], WEEKDAY_EVENINGS, {}),
            (
                # Short slots and no lead time, so the demo can book one that starts at once.
                "Demo room",
                6,
                ["crafts", "meeting"],
                ["table"],
                ALL_DAY,
                {
                    "slot_minutes": 5,
                    "min_duration_minutes": 5,
                    "max_duration_minutes": 60,
                    "lead_time_minutes": 0,
                    "access_grace_before_minutes": 0,
                    "access_grace_after_minutes": 0,
                },
            ),
        ],
    },
    {
        "organisation": HOUSING,
        "name": "As Oy Kalasataman Helmi (housing company)",
        "address": "Hermannin rantatie 5, 00580 Helsinki",
        "latitude": 60.1874,
        "longitude": 24.9786,
        "spaces": [
            ("Club room", 12, ["meeting", "crafts"], ["screen", "kitchen"], OFFICE_HOURS, {}),
        ],
    },
]

BAND_ROOM = ("Kalasatama library", "Music room", "demo-lock-2")
CHRISTMAS = {
    "reason_fi": "Joulutauko",
    "reason_sv": "Jullov",
    "reason_en": "Christmas break",
}

DEMO_USER = ("demo@flexispace.example", "demo-passphrase")
DEMO_OPERATOR = ("operator@flexispace.example", "operator-passphrase")


class Command(BaseCommand):
    help = "Load Kalasatama-style demo data (idempotent)."

    @transaction.atomic
    def handle(self, *args, **options):
        activities = {
            slug: Activity.objects.update_or_create(
                slug=slug, defaults={"name_fi": fi, "name_sv": sv, "name_en": en}
            )[0]
            for slug, (fi, sv, en) in ACTIVITIES.items()
        }
        organisations = self._organisations()
        for venue_data in VENUES:
            venue_fields = {k: v for k, v in venue_data.items() if k != "spaces"}
            venue_fields["organisation"] = organisations[venue_fields["organisation"]]
            venue, _ = Venue.objects.update_or_create(
                name=venue_fields.pop("name"), defaults={**venue_fields, "district": "Kalasatama"}
            )
            for name, capacity, slugs, equipment, opening, rules in venue_data["spaces"]:
                space, _ = Space.objects.update_or_create(
                    venue=venue,
                    name=name,
                    defaults={"capacity": capacity, "equipment": equipment, **rules},
                )
                space.activities.set(activities[slug] for slug in slugs)
                space.opening_hours.all().delete()
                OpeningHours.objects.bulk_create(
                    OpeningHours(space=space, weekday=w, opens=o, closes=c) for w, o, c in opening
                )
        venue_name, space_name, lock_id = BAND_ROOM
        enrol_demo_lock(Space.objects.get(venue__name=venue_name, name=space_name), lock_id)
        school = Venue.objects.get(name="Kalasatama school")
        christmas = date(timezone.localdate().year, 12, 24)
        Closure.objects.update_or_create(
            venue=school,
            first_date=christmas,
            defaults={"last_date": christmas + timedelta(days=2), **CHRISTMAS},
        )
        person = self._user(*DEMO_USER, name="Demo Person")
        make_operator(self._user(*DEMO_OPERATOR, name="Demo Operator"))
        self._book_the_demo_room(person)
        self.stdout.write(
            f"Demo data loaded: {Venue.objects.count()} venues, {Space.objects.count()} spaces. "
            f"Log in as {DEMO_USER[0]} / {DEMO_USER[1]} or, as the city-wide operator, "
            f"{DEMO_OPERATOR[0]} / {DEMO_OPERATOR[1]}; the organisations' people are in the "
            "README."
        )

    def _organisations(self) -> dict[str, Organisation]:
        made = {}
        for name, (kind, people) in ORGANISATIONS.items():
            made[name], _ = Organisation.objects.update_or_create(
                name=name, defaults={"kind": kind}
            )
            for email, password, person, role in people:
                user = self._user(email, password, name=person)
                Membership.objects.update_or_create(
                    organisation=made[name], user=user, defaults={"role": role}
                )
        return made

    @staticmethod
    def _user(email, password, **fields):
        user = User.objects.filter(email=email).first()
        return user or User.objects.create_user(email, password, **fields)

    def _book_the_demo_room(self, person):
        """Ask for the demo room, which has a lock, from the next 5-minute mark for 5 minutes,
        through the queue; the simulated fleet then shows its code accepted and refused."""
        space = Space.objects.get(name="Demo room")
        enrol_demo_lock(space)
        waiting = BookingRequest.objects.filter(
            space=space,
            user=person,
            end__gt=timezone.now(),
            status__in=[RequestStatus.PENDING, RequestStatus.CONFIRMED],
        )
        if waiting.exists():
            return
        now = timezone.now()
        start = now.replace(second=0, microsecond=0) + timedelta(minutes=5 - now.minute % 5)
        if start - now < timedelta(minutes=2):
            start += timedelta(minutes=5)
        request = services.request_booking(
            person, space=space, start=start, end=start + timedelta(minutes=5), party_size=2
        )
        local = start.astimezone(space.venue.zone)
        self.stdout.write(
            f"Demo booking request {request.id}: {space} from {local:%H:%M} to "
            f"{local + timedelta(minutes=5):%H:%M} ({space.venue.timezone}), queued."
        )
