"""Bulk seeding for benchmarks: people with tokens and spaces open around the clock.

Rows go in with bulk inserts, never through the API, so seeding costs seconds, not minutes.
"""

import binascii
import os
from datetime import UTC, datetime, timedelta

from rest_framework.authtoken.models import Token

from api.accounts.models import User
from api.catalogue.models import OpeningHours, Space, Venue
from api.organisations.choices import OrganisationKind
from api.organisations.models import Organisation

BATCH = 5000


def users(count: int, prefix: str = "bench") -> list[User]:
    """`count` people with unusable passwords and API tokens (`user.token_key`)."""
    people = User.objects.bulk_create(
        [User(email=f"{prefix}{n}@example.org", password="!") for n in range(count)],
        batch_size=BATCH,
    )
    tokens = Token.objects.bulk_create(
        [Token(user=person, key=binascii.hexlify(os.urandom(20)).decode()) for person in people],
        batch_size=BATCH,
    )
    for person, token in zip(people, tokens, strict=True):
        person.token_key = token.key
    return people


def spaces(count: int, venues: int = 1, **fields) -> list[Space]:
    """`count` spaces spread over `venues` venues, open 00:00-24:00 every day, 30-min grid."""
    city, _ = Organisation.objects.get_or_create(
        name="Bench city", defaults={"kind": OrganisationKind.CITY}
    )
    places = Venue.objects.bulk_create(
        [
            Venue(
                organisation=city,
                name=f"Bench venue {n}",
                address="Työpajankatu 8, Helsinki",
                district=f"District {n % 10}",
                latitude=60.17 + n * 1e-4,
                longitude=24.94 + n * 1e-4,
            )
            for n in range(venues)
        ]
    )
    defaults = {
        "capacity": 12,
        "slot_minutes": 30,
        "min_duration_minutes": 60,
        "max_duration_minutes": 240,
        "lead_time_minutes": 60,
        "max_advance_days": 60,
        "buffer_minutes": 0,
    }
    rooms = Space.objects.bulk_create(
        [
            Space(venue=places[n % venues], name=f"Room {n}", **{**defaults, **fields})
            for n in range(count)
        ],
        batch_size=BATCH,
    )
    OpeningHours.objects.bulk_create(
        [
            OpeningHours(space=room, weekday=w, opens=0, closes=24 * 60)
            for room in rooms
            for w in range(7)
        ],
        batch_size=BATCH,
    )
    return rooms


def next_hour(after: timedelta) -> datetime:
    """The first whole UTC hour at least `after` from now (on every space's 30-minute grid)."""
    moment = datetime.now(UTC) + after
    return moment.replace(minute=0, second=0, microsecond=0) + timedelta(hours=1)
