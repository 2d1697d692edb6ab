"""What the audit trail records (django-auditlog, into api.audit.models.AuditEntry): what
operators change in the catalogue, locks and unlocks, organisations and their members, and
webhooks. Cancellations on someone's behalf are recorded by cancel_booking() itself, as
bookings change for many reasons nobody needs a trail of (allocation, completion).

Each audited row tells auditlog its organisation through get_additional_data(), given to the
model here rather than written on each one, so that what is audited is said in one place."""

from auditlog.registry import auditlog
from django.core.exceptions import ObjectDoesNotExist

from api.access.models import Lock, LockCommand
from api.catalogue.models import Closure, ExtraOpening, OpeningHours, Space, Venue
from api.notifications.models import Webhook
from api.organisations import scoping
from api.organisations.models import Membership, Organisation

AUDITED = {
    Venue: {},
    Space: {"m2m_fields": {"activities"}},
    OpeningHours: {},
    ExtraOpening: {},
    Closure: {},
    # Enrolment and removal; what the lock reports is no one's change.
    Lock: {"include_fields": ["id", "space"]},
    # Unlocks and other commands, by whom.
    LockCommand: {"include_fields": ["op", "lock", "requested_by"]},
    Organisation: {},
    Membership: {},
    Webhook: {"exclude_fields": ["secret"]},
}


def organisation_data(row) -> dict:
    try:
        return {"organisation": scoping.organisation_of(row)}
    except ObjectDoesNotExist:  # a row deleted with its parent (a cascade)
        return {"organisation": None}


def register() -> None:
    for model, options in AUDITED.items():
        model.get_additional_data = organisation_data
        auditlog.register(model, **options)
