from auditlog.models import AbstractLogEntry, LogEntryManager
from django.db import models

from api.organisations.models import Organisation


class AuditEntry(AbstractLogEntry):
    """django-auditlog's entry (AUDITLOG_LOGENTRY_MODEL), with the organisation that owns what
    changed as a column of its own, so that the audit trail is scoped like everything else."""

    organisation = models.ForeignKey(
        Organisation, on_delete=models.CASCADE, null=True, blank=True, related_name="+"
    )

    objects = LogEntryManager()
    organisation_path = "organisation"

    class Meta(AbstractLogEntry.Meta):
        verbose_name_plural = "audit entries"
        indexes = [models.Index(fields=["organisation", "-timestamp"])]

    def save(self, *args, **kwargs):
        # auditlog passes on what the audited row's get_additional_data() says (api/audit/apps.py).
        if self.organisation_id is None and self.additional_data:
            self.organisation_id = self.additional_data.get("organisation")
        super().save(*args, **kwargs)
