from django.db import models


class OrganisationKind(models.TextChoices):
    CITY = "city", "City department"
    SCHOOL = "school", "School"
    LIBRARY = "library", "Library"
    HOUSING = "housing", "Housing company"
    BUSINESS = "business", "Business"
    OTHER = "other", "Other"


class Role(models.TextChoices):
    """A member's role in their organisation; each one may do what the one below it may."""

    VIEWER = "viewer", "Viewer"  # reads bookings, locks and alerts
    MANAGER = "manager", "Manager"  # also spaces, openings, closures, bookings, unlocking
    ADMIN = "admin", "Admin"  # also members, venues, locks, webhooks, the audit trail

    @classmethod
    def at_least(cls, role: str) -> list[str]:
        """The roles that may do what `role` may."""
        order = list(cls.values)
        return order[order.index(role) :]
