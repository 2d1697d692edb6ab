"""Who may see and change what: the one home of organisation scoping.

Every model an operator reaches names its way to the owning organisation once, as the class
attribute `organisation_path`: a lookup (`"space__venue__organisation"`), or a tuple of them of
which any may hold (a closure is a space's or a venue's). `scoped()` narrows a queryset of such
a model to the rows a person may act on with a role, and `role_of()` says a person's role over
one row. The API's views and permissions, the admin and the routing of alerts, mail and
webhooks call these and nothing else; a row outside them is, to that person, not there.

City-wide operators (`is_staff`, made by `create_operator`) hold every role everywhere.
"""

from django.contrib.auth import get_user_model
from django.db.models import Model, Q, QuerySet

from api.organisations.choices import Role
from api.organisations.models import Membership


def is_city_operator(user) -> bool:
    return bool(user and user.is_authenticated and user.is_active and user.is_staff)


def organisation_ids(user, role: str = Role.VIEWER) -> QuerySet:
    """The ids of the organisations where the person holds at least `role` (a subquery)."""
    return Membership.objects.filter(
        user_id=user.pk, user__is_active=True, role__in=Role.at_least(role)
    ).values("organisation_id")


def scoped(queryset: QuerySet, user, role: str = Role.VIEWER) -> QuerySet:
    """The rows of `queryset` the person may act on with `role`."""
    if is_city_operator(user):
        return queryset
    if not (user and user.is_authenticated):
        return queryset.none()
    ids = organisation_ids(user, role)
    condition = Q()
    for path in paths(queryset.model):
        condition |= Q(**{f"{path}__in": ids})
    return queryset.filter(condition)


def holds(user, role: str) -> bool:
    """Whether the person holds `role` anywhere: what lets them reach an operator endpoint."""
    if is_city_operator(user):
        return True
    return bool(user and user.is_authenticated) and organisation_ids(user, role).exists()


def role_of(user, row: Model) -> str | None:
    """The person's role over one row: their role in its organisation, admin for a city-wide
    operator, None for anyone else."""
    if is_city_operator(user):
        return Role.ADMIN
    if not (user and user.is_authenticated):
        return None
    organisation_id = organisation_of(row)
    return None if organisation_id is None else roles(user).get(organisation_id)


def roles(user) -> dict[int, str]:
    """The person's role in each of their organisations, read once per user object (so once
    per request: a list of bookings asks for each row's)."""
    if not hasattr(user, "_organisation_roles"):
        user._organisation_roles = dict(
            Membership.objects.filter(user_id=user.pk, user__is_active=True).values_list(
                "organisation_id", "role"
            )
        )
    return user._organisation_roles


def allows(user, row: Model, role: str) -> bool:
    return role_of(user, row) in Role.at_least(role)


def organisation_of(row: Model) -> int | None:
    """The id of the organisation that owns the row, by its model's `organisation_path`."""
    for path in paths(type(row)):
        *hops, last = path.split("__")
        target = row
        for hop in hops:
            target = getattr(target, hop, None)
            if target is None:
                break
        else:
            found = getattr(target, "pk" if last == "id" else f"{last}_id")
            if found is not None:
                return found
    return None


def paths(model: type[Model]) -> tuple[str, ...]:
    path = model.organisation_path
    return (path,) if isinstance(path, str) else tuple(path)


def people(organisation_id: int | None) -> QuerySet:
    """Who hears about an organisation's venues (alerts, access-problem mail): its active
    members; the city-wide operators for a venue whose organisation has none."""
    users = get_user_model().objects.filter(is_active=True).order_by("id")
    members = users.filter(memberships__organisation_id=organisation_id)
    return members if members.exists() else users.filter(is_staff=True)
