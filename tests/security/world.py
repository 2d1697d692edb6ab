"""One of everything the API serves, for the tests that go over every endpoint: an owner with a
booking (and its door code), a request and a calendar feed; another user; a city-wide operator;
the organisation that owns the venue, with its admin, manager and viewer and a webhook; another
organisation's admin; a venue and its space with a lock."""

from dataclasses import dataclass
from datetime import timedelta

from django.apps import apps
from django.db import transaction
from django.utils import timezone

from api.access import services as access
from api.access.models import Grant, Lock
from api.accounts.models import User
from api.bookings import series, waitlist
from api.bookings.models import (
    Booking,
    BookingRequest,
    BookingSeries,
    ReleaseWindow,
    WaitlistEntry,
)
from api.catalogue.models import Activity, Closure, ExtraOpening, Space, Venue
from api.notifications.models import Webhook
from api.organisations.models import Membership, Organisation
from tests.factories import (
    ActivityFactory,
    BookingFactory,
    BookingRequestFactory,
    MembershipFactory,
    OrganisationFactory,
    SpaceFactory,
    UserFactory,
    next_slot,
)
from tests.settings import RUN

PASSWORD = "correct horse battery"


@dataclass
class World:
    owner: User
    other: User
    operator: User
    activity: Activity
    venue: Venue
    space: Space
    lock: Lock
    booking_request: BookingRequest
    booking: Booking
    grant: Grant
    webhook: Webhook
    calendar_secret: str
    closure: Closure
    venue_closure: Closure
    opening: ExtraOpening
    series: BookingSeries
    waitlist_entry: WaitlistEntry
    release_window: ReleaseWindow
    organisation: Organisation
    admin: User
    manager: User
    viewer: User
    # The admin of another organisation, which owns nothing of the above.
    stranger: User
    membership: Membership

    def user(self, role: str) -> User | None:
        return None if role == "anonymous" else getattr(self, role)

    def booking_request_body(self, **changes) -> dict:
        """A request the API accepts: a free hour of the space, three days ahead."""
        start, end = next_slot(hours_ahead=72)
        body = {
            "space": self.space.pk,
            "start": start.isoformat(),
            "end": end.isoformat(),
            "party_size": 4,
            "activity": self.activity.slug,
        }
        return {**body, **changes}

    def series_body(self, **changes) -> dict:
        """A series the API accepts: every evening, 18 to 19 local, of a week from 3 days on."""
        first = (timezone.now() + timedelta(days=3)).astimezone(self.venue.zone).date()
        body = {
            "space": self.space.pk,
            "weekdays": list(range(7)),
            "start_time": "18:00",
            "end_time": "19:00",
            "first_date": first.isoformat(),
            "last_date": (first + timedelta(days=6)).isoformat(),
            "party_size": 4,
            "activity": self.activity.slug,
        }
        return {**body, **changes}

    def release_window_body(self, **changes) -> dict:
        body = {
            "venue": self.venue.pk,
            "spaces": [self.space.pk],
            "period_start": later(30),
            "period_end": later(40),
            "collect_from": later(10),
            "collect_until": later(20),
            "seed": 7,
        }
        return {**body, **changes}


def build_world() -> World:
    owner = UserFactory(email="olivia@example.org", name="Olivia Owner")
    other = UserFactory(email="oscar@example.org", name="Oscar Other")
    operator = UserFactory(email="otto@example.org", name="Otto Operator", is_staff=True)
    activity = ActivityFactory()
    space = SpaceFactory(activities=[activity])
    lock, _password = access.enrol_lock(f"{RUN}-lock-world", space)
    start, end = next_slot(hours_ahead=5)
    booking_request = BookingRequestFactory(
        user=owner, space=space, start=start, end=end, status="confirmed"
    )
    with transaction.atomic():
        booking = BookingFactory(
            user=owner, space=space, start=start, end=end, request=booking_request
        )
        grant = access.create_grant(booking)
    organisation = space.venue.organisation
    members = {
        role: MembershipFactory(organisation=organisation, role=role, user=UserFactory())
        for role in ("admin", "manager", "viewer")
    }
    elsewhere = OrganisationFactory(name="As Oy Kalasatama", kind="housing")
    stranger = MembershipFactory(organisation=elsewhere, role="admin", user=UserFactory()).user
    webhook = Webhook.objects.create(
        organisation=organisation,
        url="https://hooks.example.org/flexispace",
        secret="a webhook secret of sixteen+",
        events=["request.decided"],
        created_by=members["admin"].user,
    )
    # Five days on, clear of the world's other bookings and requests; decided here, so a
    # worker that gets its task later finds nothing left to do.
    first = (timezone.now() + timedelta(days=5)).astimezone(space.venue.zone).date()
    owners_series = series.request_series(
        owner,
        space=space,
        weekdays=[first.weekday()],
        start_minute=18 * 60,
        end_minute=19 * 60,
        first_date=first,
        last_date=first,
        party_size=4,
    )
    series.allocate_series(owners_series.pk)
    return World(
        owner=owner,
        other=other,
        operator=operator,
        activity=activity,
        venue=space.venue,
        space=space,
        lock=lock,
        booking_request=booking_request,
        booking=booking,
        grant=grant,
        webhook=webhook,
        calendar_secret=owner.rotate_calendar_token(),
        closure=Closure.objects.create(space=space, **CLOSED_FOR_CHRISTMAS),
        venue_closure=Closure.objects.create(venue=space.venue, **CLOSED_FOR_CHRISTMAS),
        opening=ExtraOpening.objects.create(space=space, date="2027-06-19", opens=600, closes=960),
        series=owners_series,
        waitlist_entry=waitlist.join(owner, space=space, start=start, end=end, party_size=4),
        release_window=ReleaseWindow.objects.create(
            venue=space.venue,
            period_start=next_slot()[0] + timedelta(days=30),
            period_end=next_slot()[0] + timedelta(days=40),
            collect_from=next_slot()[0] + timedelta(days=10),
            collect_until=next_slot()[0] + timedelta(days=20),
            seed=7,
        ),
        organisation=organisation,
        admin=members["admin"].user,
        manager=members["manager"].user,
        viewer=members["viewer"].user,
        stranger=stranger,
        membership=members["viewer"],
    )


CLOSED_FOR_CHRISTMAS = {
    "first_date": "2027-12-24",
    "last_date": "2027-12-26",
    "reason_fi": "Joulutauko",
    "reason_sv": "Jullov",
    "reason_en": "Christmas break",
}


def later(days: int) -> str:
    """An hour-aligned instant `days` ahead, as RFC 3339."""
    return (next_slot()[0] + timedelta(days=days)).isoformat()


def fill(path: str, world: World) -> str:
    """A schema path with its parameters filled in with the world's objects."""
    ids = {
        "activities": world.activity.slug,
        "venues": world.venue.pk,
        "spaces": world.space.pk,
        "booking-requests": world.booking_request.pk,
        "bookings": world.booking.pk,
        "locks": world.lock.pk,
        "webhooks": world.webhook.pk,
        "calendar": world.calendar_secret,
        "openings": world.opening.pk,
        "booking-series": world.series.pk,
        "waitlist": world.waitlist_entry.pk,
        "release-windows": world.release_window.pk,
        "organisations": world.organisation.pk,
        "members": world.membership.pk,
    }
    closures = {"spaces": world.closure.pk, "venues": world.venue_closure.pk}
    parts = path.split("/")
    for index, part in enumerate(parts):
        if part.startswith("{"):
            collection = parts[index - 1]
            if collection == "closures":  # a space's or a venue's
                parts[index] = str(closures[parts[index - 3]])
                continue
            if collection not in ids:
                raise LookupError(f"tests/security/world.py: no object for {path}; add one")
            parts[index] = str(ids[collection])
        elif "{" in part:  # "{token}.ics"
            parts[index] = part.replace("{token}", world.calendar_secret)
    return "/".join(parts)


def row_counts() -> dict[str, int]:
    """How many rows each model has: equal before and after a refused request."""
    return {model._meta.label: model.objects.count() for model in apps.get_models()}
