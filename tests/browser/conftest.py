"""A real browser (Debian's chromium, driven by Playwright) against the real stack: the API in
gunicorn on a free port, the session's Celery worker, the MQTT gateway and simulated locks on
the real broker. Screenshots go to var/test-artefacts/browser/."""

import os
import shutil
import sys
from pathlib import Path

import pytest
from playwright.sync_api import sync_playwright

from tests.access.conftest import fleet, gateway  # noqa: F401 (fixtures for these tests)
from tests.conftest import free_port, start_process, stop_process, wait_for

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ARTEFACTS = Path(__file__).resolve().parents[2] / "var" / "test-artefacts" / "browser"
# axe-core, pinned, from the npm registry (tests/browser/README.md says how to update it).
AXE = Path(__file__).resolve().parent / "axe.min.js"


@pytest.fixture(scope="module")
def browser():
    if not Path(CHROMIUM).exists():
        pytest.fail("chromium is not installed: apt-get install chromium (.ci/run does)")
    # Playwright's sync API runs an event loop on this thread for as long as it is started,
    # which Django takes for async code and refuses database calls in; the test's own calls
    # are plain synchronous ones, so its guard is lifted for this module's tests only.
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    try:
        yield from _chromium()
    finally:
        del os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"]


def _chromium():
    with sync_playwright() as playwright:
        # As root (CI) chromium needs --no-sandbox; nothing but the test's own pages is loaded.
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        yield browser
        browser.close()


@pytest.fixture(scope="module")
def site(django_db_setup, django_db_blocker):
    """The API and pages in gunicorn against the test database; its tests need
    `transactional_db`, as it sees only committed rows."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    process = start_process(
        "browser-api",
        [sys.executable, "-m", "gunicorn", "api.wsgi:application", "--bind",
         f"127.0.0.1:{port}", "--workers", "1", "--threads", "8"],
        ready="Booting worker",
        PORT=str(port),
        PUBLIC_URL=url,
        THROTTLING="off",
    )  # fmt: skip
    process.url = url
    yield process
    stop_process(process)


def new_page(browser, site, locale: str, viewport=(1000, 1200)):
    """A fresh browser profile (no token stored) speaking `locale`, on the city's clock."""
    context = browser.new_context(
        base_url=site.url,
        locale=locale,
        timezone_id="Europe/Helsinki",
        viewport={"width": viewport[0], "height": viewport[1]},
    )
    page = context.new_page()
    page.set_default_timeout(20_000)
    # The cancel button asks for confirmation.
    page.on("dialog", lambda dialog: dialog.accept())
    return page


def screenshot(page, name: str) -> Path:
    ARTEFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTEFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


def accessibility_violations(page) -> list[dict]:
    """axe-core's serious and critical violations of WCAG 2.1 A and AA on the page as shown."""
    page.add_script_tag(content=AXE.read_text())
    result = page.evaluate(
        """() => axe.run(document, {runOnly: {type: "tag",
             values: ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]}})"""
    )
    return [
        {"id": v["id"], "impact": v["impact"], "nodes": [n["target"] for n in v["nodes"]]}
        for v in result["violations"]
        if v["impact"] in ("serious", "critical")
    ]


def ready(page):
    wait_for(lambda: page.evaluate("document.body.dataset.ready") is not None, timeout=20)
