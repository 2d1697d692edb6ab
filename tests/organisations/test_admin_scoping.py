"""The admin is scoped as the API is: for every model admin that is scoped
(api/organisations/admin.py, ScopedAdmin), another organisation's admin neither lists nor opens
the world's rows, and the owning organisation's viewer opens them without changing them."""

import pytest
from django.contrib import admin
from django.test import Client
from django.urls import reverse

from api.notifications.models import Webhook
from api.organisations import scoping
from api.organisations.admin import ScopedAdmin
from api.organisations.models import Organisation
from tests.security.world import build_world

SCOPED = sorted(
    model._meta.label
    for model, model_admin in admin.site._registry.items()
    if isinstance(model_admin, ScopedAdmin)
)


def test_every_model_with_an_organisation_has_a_scoped_admin():
    unscoped = [
        model._meta.label
        for model, model_admin in admin.site._registry.items()
        if hasattr(model, "organisation_path") and not isinstance(model_admin, ScopedAdmin)
    ]
    assert unscoped == []


def signed_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.mark.django_db
@pytest.mark.parametrize("label", SCOPED)
def test_another_organisations_admin_neither_lists_nor_opens_a_row(label):
    world = build_world()
    model = next(m for m in admin.site._registry if m._meta.label == label)
    model_admin = admin.site._registry[model]
    rows = scoping.scoped(model.objects.all(), world.admin)
    if model is Organisation:
        rows = rows.filter(pk=world.organisation.pk)
    row = rows.first()
    if row is None:
        pytest.skip(f"the world has no {label}")
    info = (model._meta.app_label, model._meta.model_name)
    change = reverse("admin:{}_{}_change".format(*info), args=[row.pk])
    changelist = reverse("admin:{}_{}_changelist".format(*info))

    stranger = signed_in(world.stranger)
    listed = stranger.get(changelist)
    assert listed.status_code in (200, 403)
    if listed.status_code == 200:
        assert row not in listed.context["cl"].result_list
    assert stranger.get(change).status_code in (302, 403)  # the admin's "no such row"
    assert stranger.post(change, {}).status_code in (302, 403)

    viewer = signed_in(world.viewer)
    if model_admin.view_role == "viewer":
        opened = viewer.get(change)
        assert opened.status_code == 200
        assert opened.context["has_change_permission"] is False
    assert signed_in(world.operator).get(change).status_code == 200


@pytest.mark.django_db
def test_a_member_cannot_make_a_webhook_for_every_organisation_in_the_admin():
    world = build_world()
    client = signed_in(world.admin)
    form = {"url": "https://hooks.example.org/all", "secret": "s" * 20, "events": "access.problem"}
    answer = client.post("/admin/notifications/webhook/add/", {**form, "active": "on"})
    assert answer.status_code == 200 and "organisation" in answer.context["adminform"].form.errors
    assert not Webhook.objects.filter(url=form["url"]).exists()
