"""Pages, API errors and their codes in fi, sv and en: the user's `language` for a signed-in
person, else Accept-Language (Django's LocaleMiddleware), from the gettext catalogs in
api/locale/, which are complete and compiled."""

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.conftest import client_for
from tests.factories import SpaceFactory, UserFactory, next_slot

LOCALE = Path(__file__).resolve().parent.parent / "api" / "locale"
API = LOCALE.parent

pytestmark = pytest.mark.django_db


def test_anonymous_errors_follow_accept_language(anonymous):
    body = {"email": "nobody@example.org", "password": "wrong"}
    answers = {
        language: anonymous.post(
            "/api/v1/auth/token/", body, format="json", HTTP_ACCEPT_LANGUAGE=language
        ).json()
        for language in ("fi", "sv", "en")
    }
    assert answers["fi"]["password"] == ["Kirjautuminen ei onnistu näillä tunnuksilla."]
    assert answers["sv"]["password"] == ["Det går inte att logga in med dessa uppgifter."]
    assert answers["en"]["password"] == ["Unable to log in with these credentials."]
    # The codes are the same in every language, for frontends that word errors their own way.
    assert {str(a["codes"]) for a in answers.values()} == {"{'password': ['invalid_credentials']}"}


def test_without_accept_language_errors_are_in_finnish(anonymous):
    response = anonymous.get("/api/v1/slots/")
    assert response.json()["activity"] == ["Tämä kenttä vaaditaan."]
    assert response.json()["codes"]["activity"] == ["required"]
    assert response["Content-Language"] == "fi"


def test_a_signed_in_persons_own_language_beats_accept_language(space):
    swede = UserFactory(language="sv")
    start, end = next_slot()
    body = {"space": space.id, "start": end.isoformat(), "end": start.isoformat(), "party_size": 2}
    response = client_for(swede).post(
        "/api/v1/booking-requests/", body, format="json", HTTP_ACCEPT_LANGUAGE="en"
    )
    assert response.status_code == 400
    assert response.json() == {
        "end": ["Slutet måste vara efter starten."],
        "codes": {"end": ["end_before_start"]},
    }
    assert response["Content-Language"] == "sv"


def test_errors_without_a_field_have_a_code_too(anonymous):
    response = anonymous.get("/api/v1/bookings/", HTTP_ACCEPT_LANGUAGE="sv")
    assert response.status_code == 401
    assert response.json() == {
        "detail": "Autentiseringsuppgifter ej tillhandahållna.",
        "code": "not_authenticated",
    }
    missing = anonymous.get("/api/v1/no-such-thing/", HTTP_ACCEPT_LANGUAGE="fi")
    assert missing.json() == {"detail": "Ei löydy.", "code": "not_found"}


def test_a_rule_breach_is_worded_in_the_language_with_its_code(owner):
    owner.language = "fi"
    owner.save()
    space = SpaceFactory(capacity=4)
    start, end = next_slot()
    body = {"space": space.id, "start": start.isoformat(), "end": end.isoformat(), "party_size": 9}
    response = client_for(owner).post("/api/v1/booking-requests/", body, format="json")
    assert response.json() == {
        "party_size": ["Oltava vähintään 1 ja enintään tilan henkilömäärä 4."],
        "codes": {"party_size": ["over_capacity"]},
    }


@pytest.mark.parametrize(
    ("language", "title"),
    [
        ("fi", "Löydä vapaa tila sille, mitä haluat tehdä"),
        ("sv", "Hitta en ledig lokal för det du vill göra"),
        ("en", "Find a free space for what you want to do"),
    ],
)
def test_the_citizens_page_is_in_the_browsers_language(anonymous, language, title):
    page = anonymous.get("/", HTTP_ACCEPT_LANGUAGE=f"{language},en;q=0.5").content.decode()
    assert f'<html lang="{language}">' in page
    assert title in page


def test_the_language_switcher_sets_the_pages_language(anonymous):
    anonymous.post("/i18n/setlang/", {"language": "sv", "next": "/"})
    assert "Hitta en ledig lokal" in anonymous.get("/", HTTP_ACCEPT_LANGUAGE="fi").content.decode()


# --- the catalogs --------------------------------------------------------------------------

needs_gettext = pytest.mark.skipif(
    shutil.which("msgfmt") is None, reason="GNU gettext is not installed (.ci/run installs it)"
)


def catalog(language: str) -> str:
    return (LOCALE / language / "LC_MESSAGES" / "django.po").read_text()


def msgids(po: str) -> set[str]:
    entries = re.findall(r'^msgid ((?:".*"\n)+)', po, flags=re.MULTILINE)
    return {"".join(re.findall(r'"(.*)"', entry)) for entry in entries} - {""}


@needs_gettext
@pytest.mark.parametrize("language", ["fi", "sv", "en"])
def test_each_catalog_is_valid_and_its_compiled_file_is_up_to_date(language, tmp_path):
    po = LOCALE / language / "LC_MESSAGES" / "django.po"
    compiled = tmp_path / "django.mo"
    subprocess.run(["msgfmt", "--check", "-o", str(compiled), str(po)], check=True)
    assert compiled.read_bytes() == po.with_suffix(".mo").read_bytes(), (
        "run manage.py compilemessages --ignore '.venv/*' and commit the .mo"
    )


@needs_gettext
@pytest.mark.parametrize("language", ["fi", "sv"])
def test_every_message_is_translated(language):
    po = LOCALE / language / "LC_MESSAGES" / "django.po"
    statistics = subprocess.run(
        ["msgfmt", "--statistics", "-o", "/dev/null", str(po)],
        capture_output=True,
        text=True,
        check=True,
    ).stderr
    assert re.fullmatch(r"\d+ translated messages\.\n", statistics), statistics


@needs_gettext
def test_every_translatable_string_of_the_code_is_in_the_catalogs():
    sources = sorted(str(p) for p in API.rglob("*.py") if "migrations" not in p.parts)
    extracted = subprocess.run(
        ["xgettext", "--language=Python", "--from-code=UTF-8", "--keyword=_",
         "--keyword=gettext", "--keyword=gettext_lazy", "--keyword=ngettext:1,2",
         "--keyword=pgettext_lazy:1c,2", "--output=-", *sources],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    missing = msgids(extracted) - msgids(catalog("en"))
    assert not missing, f"run manage.py makemessages (docs/languages.md) for: {sorted(missing)}"
