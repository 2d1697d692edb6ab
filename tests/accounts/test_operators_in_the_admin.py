"""An operator made by create_operator works in the Django admin: the catalogue to edit,
bookings, locks and notifications to read; people's accounts are not theirs to see."""

import pytest
from django.core.management import call_command
from django.test import Client

from api.accounts.models import User
from api.accounts.operators import GROUP

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client_of_operator():
    call_command("create_operator", email="ops@example.org", password="operator pass")
    client = Client()
    client.force_login(User.objects.get(email="ops@example.org"))
    return client


def test_create_operator_puts_the_operator_in_the_operators_group():
    call_command("create_operator", email="ops@example.org", password="operator pass")
    operator = User.objects.get(email="ops@example.org")
    assert operator.is_staff and not operator.is_superuser
    assert list(operator.groups.values_list("name", flat=True)) == [GROUP]


@pytest.mark.parametrize(
    "path",
    [
        "/admin/catalogue/space/",
        "/admin/catalogue/space/add/",
        "/admin/catalogue/closure/add/",
        "/admin/catalogue/venue/add/",
        "/admin/bookings/booking/",
        "/admin/access/lock/",
        "/admin/notifications/notification/",
    ],
)
def test_an_operator_has_the_admin_pages_of_their_work(admin_client_of_operator, path):
    assert admin_client_of_operator.get(path).status_code == 200


# A lock is enrolled in the admin through enrol_lock() (issue 13's onboarding), so its add page
# is an operator's; bookings are only ever made through requests.
@pytest.mark.parametrize(
    "path",
    [
        "/admin/accounts/user/",
        "/admin/bookings/booking/add/",
        "/admin/bookings/bookingrequest/add/",
    ],
)
def test_an_operator_cannot_manage_accounts_nor_book_past_the_api(admin_client_of_operator, path):
    assert admin_client_of_operator.get(path).status_code == 403


def test_the_admin_index_is_not_empty_for_an_operator(admin_client_of_operator):
    page = admin_client_of_operator.get("/admin/").content.decode()
    assert "have permission to view or edit anything" not in page
    assert "/admin/catalogue/space/" in page


def test_running_create_operator_again_keeps_one_group_membership():
    for _ in range(2):
        call_command("create_operator", email="ops@example.org", password="operator pass")
    assert User.objects.get(email="ops@example.org").groups.count() == 1
