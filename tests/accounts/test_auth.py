import pytest
from django.core.management import call_command

from api.accounts.models import User
from tests.conftest import client_for

pytestmark = pytest.mark.django_db

REGISTER = "/api/v1/auth/register/"


def test_register_returns_a_token_and_the_user_with_finnish_by_default(anonymous):
    response = anonymous.post(
        REGISTER,
        {"email": "Salsa@Example.org", "password": "a long passphrase", "name": "Sanna"},
        format="json",
    )
    assert response.status_code == 201
    body = response.json()
    assert set(body) == {"token", "user"}
    assert body["user"] == {
        "id": body["user"]["id"],
        "email": "salsa@example.org",
        "name": "Sanna",
        "language": "fi",
        "is_operator": False,
        "organisations": [],
    }
    me = client_for(User.objects.get()).get("/api/v1/auth/me/")
    assert me.json()["email"] == "salsa@example.org"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"password": "a long passphrase", "name": "N"}, "email"),
        ({"email": "not-an-email", "password": "a long passphrase", "name": "N"}, "email"),
        ({"email": "a@example.org", "password": "short", "name": "N"}, "password"),
        ({"email": "a@example.org", "password": "a long passphrase"}, "name"),
        ({"email": "a@example.org", "password": "a long passphrase", "name": "N", "language": "de"}, "language"),
    ],
)  # fmt: skip
def test_register_names_the_bad_field_and_creates_nothing(anonymous, body, field):
    response = anonymous.post(REGISTER, body, format="json")
    assert response.status_code == 400
    assert field in response.json()
    assert not User.objects.exists()


def test_register_refuses_an_email_already_taken(anonymous, owner):
    response = anonymous.post(
        REGISTER,
        {"email": owner.email.upper(), "password": "a long passphrase", "name": "Again"},
        format="json",
    )
    assert response.status_code == 400
    assert "email" in response.json()
    assert User.objects.count() == 1


def test_register_keeps_the_chosen_language(anonymous):
    response = anonymous.post(
        REGISTER,
        {"email": "s@example.org", "password": "a long passphrase", "name": "S", "language": "sv"},
        format="json",
    )
    assert response.json()["user"]["language"] == "sv"


def test_token_is_given_for_the_right_password_only(anonymous, owner):
    good = anonymous.post(
        "/api/v1/auth/token/",
        {"email": owner.email, "password": "correct horse battery"},
        format="json",
    )
    assert good.status_code == 200
    assert good.json() == {"token": owner.auth_token.key}
    bad = anonymous.post(
        "/api/v1/auth/token/", {"email": owner.email, "password": "wrong"}, format="json"
    )
    assert bad.status_code == 400
    assert "password" in bad.json()


def test_me_shows_and_changes_name_and_language_only(as_owner, owner):
    assert as_owner.get("/api/v1/auth/me/").json() == {
        "id": owner.id,
        "email": owner.email,
        "name": owner.name,
        "language": "fi",
        "is_operator": False,
        "organisations": [],
        "paused_until": None,
        "no_shows": 0,
    }
    response = as_owner.patch(
        "/api/v1/auth/me/",
        {"name": "Olivia O.", "language": "en", "email": "hijack@example.org"},
        format="json",
    )
    assert response.status_code == 200
    owner.refresh_from_db()
    assert (owner.name, owner.language, owner.email) == ("Olivia O.", "en", "olivia@example.org")


def test_me_needs_a_token(anonymous):
    assert anonymous.get("/api/v1/auth/me/").status_code == 401


def test_create_operator_makes_a_staff_user_who_logs_in_like_anyone(anonymous):
    call_command("create_operator", email="Ops@Example.org", password="operator pass")
    operator = User.objects.get(email="ops@example.org")
    assert operator.is_staff
    response = anonymous.post(
        "/api/v1/auth/token/",
        {"email": "ops@example.org", "password": "operator pass"},
        format="json",
    )
    assert response.status_code == 200
    me = client_for(operator).get("/api/v1/auth/me/")
    assert me.json()["is_operator"] is True
