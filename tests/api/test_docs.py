"""The browsable API docs work under the site's Content Security Policy (no inline script,
assets from our own static files)."""

from __future__ import annotations

import re

import pytest

from tests.e2e.conftest import CHROMIUM, CHROMIUM_ARGS


# Own Chromium for this module, closed when the module ends. (Re-exporting the session-scoped
# `browser` of tests/e2e would start a second Playwright beside the one tests/e2e starts later
# in the same worker, and Playwright's sync API refuses to run inside another's event loop.)
@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def page(browser, live_server):
    context = browser.new_context(base_url=live_server.url, locale="fi-FI")
    page = context.new_page()
    page.set_default_timeout(15000)
    yield page
    context.close()


pytestmark = pytest.mark.django_db


def test_docs_page_has_no_inline_script(client):
    response = client.get("/api/docs/")
    assert response.status_code == 200
    html = response.content.decode()
    scripts = re.findall(r"<script([^>]*)>(.*?)</script>", html, flags=re.S)
    assert scripts
    assert all('src="' in attrs and not body.strip() for attrs, body in scripts)
    assert "cdn.jsdelivr.net" not in html
    assert "/static/drf_spectacular_sidecar/" in html
    init = client.get("/api/docs/?script=")
    assert init.status_code == 200
    assert init["Content-Type"].startswith("application/javascript")
    assert "/api/schema/" in init.content.decode()


@pytest.mark.e2e
def test_swagger_ui_renders_in_chromium(page, live_server):
    violations = []
    page.on(
        "console",
        lambda msg: violations.append(msg.text) if "Content Security" in msg.text else None,
    )
    page.goto(f"{live_server.url}/api/docs/")
    page.wait_for_selector(".opblock-summary-path", timeout=15000)
    paths = page.locator(".opblock-summary-path").all_inner_texts()
    assert any("/api/v1/organizations/{organization_id}/members" in p for p in paths)
    assert not [v for v in violations if "script" in v.lower()], violations
