from django.conf import settings
from django.db import models


class Row(models.Model):
    """One row shaped like a booking request, with no rules attached."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, null=True)
    space = models.IntegerField()
    start = models.DateTimeField()
    end = models.DateTimeField()
    party_size = models.PositiveIntegerField()
    # When the baseline task was queued; `created_at` is when the worker inserted the row.
    sent_at = models.DateTimeField(null=True)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self):
        return f"row {self.pk}"
