"""Operators: staff who manage venues, spaces and locks, through the API (`is_staff`) and in
the Django admin with the permissions that work needs (docs/operations.md lists them).

Bookings and grants are read-only in the admin (bookings are made through requests, where the
booking rules live, and cancelled with an action); a lock added there is enrolled through
enrol_lock(), as through the API; unlocking goes through the API and the operator's page.
"""

from django.contrib.auth.models import Group, Permission
from django.db import transaction
from django.db.models import Q

GROUP = "Operators"
EDIT = ("view", "add", "change", "delete")
READ = ("view",)
PERMISSIONS = {
    "catalogue": {
        "activity": EDIT,
        "venue": EDIT,
        "space": EDIT,
        "openinghours": EDIT,
        "closure": EDIT,
        "extraopening": EDIT,
    },
    "bookings": {"booking": READ, "bookingrequest": READ},
    "access": {"lock": READ, "grant": READ, "lockcommand": READ, "lockevent": READ},
    "notifications": {"notification": READ, "webhook": EDIT, "webhookdelivery": READ},
}


def operators_group() -> Group:
    """The group, with exactly PERMISSIONS (set again each time, so a change here lands)."""
    wanted = Q(pk__in=[])
    for app, models in PERMISSIONS.items():
        for model, actions in models.items():
            codenames = [f"{action}_{model}" for action in actions]
            wanted |= Q(content_type__app_label=app, codename__in=codenames)
    group, _ = Group.objects.get_or_create(name=GROUP)
    group.permissions.set(Permission.objects.filter(wanted))
    return group


@transaction.atomic
def make_operator(user) -> None:
    user.is_staff = True
    user.save(update_fields=["is_staff"])
    user.groups.add(operators_group())
