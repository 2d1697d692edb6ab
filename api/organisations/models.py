from django.conf import settings
from django.db import models

from api.organisations.choices import OrganisationKind, Role


class Organisation(models.Model):
    """Who runs venues: a city department, a school, a library, a housing company, an office.

    Its members see and manage what belongs to its venues, and hear about their problems;
    city-wide operators (`is_staff`) see everything (api/organisations/scoping.py)."""

    name = models.CharField(max_length=200, unique=True)
    kind = models.CharField(max_length=20, choices=OrganisationKind.choices)
    created_at = models.DateTimeField(auto_now_add=True)

    organisation_path = "id"

    class Meta:
        ordering = ["name"]

    def __str__(self):
        return self.name


class Membership(models.Model):
    organisation = models.ForeignKey(
        Organisation, on_delete=models.CASCADE, related_name="memberships"
    )
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships"
    )
    role = models.CharField(max_length=10, choices=Role.choices)
    created_at = models.DateTimeField(auto_now_add=True)

    organisation_path = "organisation"

    class Meta:
        ordering = ["organisation", "user__email"]
        constraints = [
            models.UniqueConstraint(fields=["organisation", "user"], name="membership_once")
        ]

    def __str__(self):
        return f"{self.user} ({self.role} of {self.organisation})"
