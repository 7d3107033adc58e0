"""Real Chromium (Debian's package) driven by Playwright against pytest-django's live_server.

One browser per test session; each test gets a fresh context (cookies) at 1280 px. The
`seen` fixture is called on every page a journey reaches: it runs axe-core (no serious or
critical violation), checks that the page is no wider than a 375 px phone screen, and saves a
screenshot at both widths under tests/e2e/artifacts/ (gitignored). Problems are collected
and fail the test at its end, listed page by page, so one run shows all of them.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import pytest

from tests.conftest import CHROMIUM

from .axe import FAILING_IMPACTS, axe_violations

# Playwright's sync API runs an event loop in this thread; Django's ORM refuses to run where an
# event loop is running unless told the test thread is safe.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-quic",
    "--no-first-run",
    "--disable-sync",
]
DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 375, "height": 740}
ARTIFACTS = Path(__file__).parent / "artifacts"

# Elements wider than the phone screen, for the failure message.
_OVERFLOWING_JS = """() => {
  const w = document.documentElement.clientWidth;
  const out = [];
  for (const el of document.body.querySelectorAll('*')) {
    const r = el.getBoundingClientRect();
    if (r.right > w + 1 && r.width > 0) {
      let p = el.parentElement, clipped = false;
      while (p && p !== document.body) {
        const s = getComputedStyle(p);
        if (s.overflowX === 'auto' || s.overflowX === 'scroll' || s.overflowX === 'hidden') {
          clipped = true; break;
        }
        p = p.parentElement;
      }
      if (!clipped) out.push(el.tagName.toLowerCase() + (el.id ? '#' + el.id : '')
        + (typeof el.className === 'string' && el.className
           ? '.' + el.className.trim().split(/\\s+/).join('.') : '')
        + ' (' + Math.round(r.right) + 'px)');
    }
  }
  return out.slice(0, 6);
}"""


@pytest.fixture(scope="session")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


def _new_page(browser, live_server, locale: str = "fi-FI"):
    context = browser.new_context(base_url=live_server.url, locale=locale, viewport=DESKTOP)
    page = context.new_page()
    page.set_default_timeout(15000)
    page.server_errors = []  # type: ignore[attr-defined]
    page.csp_errors = []  # type: ignore[attr-defined]

    def on_response(response):
        if response.status >= 500:
            page.server_errors.append(f"{response.status} {response.url}")

    def on_console(message):
        if message.type == "error" and "Content Security Policy" in message.text:
            page.csp_errors.append(message.text[:160])

    page.on("response", on_response)
    page.on("console", on_console)
    return page


@pytest.fixture
def page(browser, live_server, settings):
    # Links in emails are built from SITE_URL: here, the address the live server runs on.
    settings.SITE_URL = live_server.url
    page = _new_page(browser, live_server)
    yield page
    page.context.close()


@pytest.fixture
def new_page(browser, live_server, settings):
    """A second (third...) browser context: another person on another computer."""
    settings.SITE_URL = live_server.url
    pages = []

    def make(locale: str = "fi-FI"):
        pages.append(_new_page(browser, live_server, locale))
        return pages[-1]

    yield make
    for p in pages:
        p.context.close()


# Page name -> the axe violations (all impacts) found there, for the report written at the end.
AXE_RESULTS: dict[str, list[str]] = {}
CSP_ERRORS: dict[str, list[str]] = {}


class PageChecks:
    """Call `seen(page, "name")` on every page a journey reaches."""

    def __init__(self, test_name: str):
        self.folder = ARTIFACTS / re.sub(r"[^\w-]+", "_", test_name)
        self.folder.mkdir(parents=True, exist_ok=True)
        for old in self.folder.glob("*.png"):
            old.unlink()
        self.problems: list[str] = []
        self.count = 0

    def __call__(
        self, page, name: str, *, axe: bool = True, screenshot: bool = True, docs: str = ""
    ) -> None:
        """`docs` also saves a screen-sized shot (not the full page) under artifacts/docs/,
        the candidates for docs/screenshots/."""
        page.wait_for_load_state()
        self.count += 1
        slug = re.sub(r"[^\w-]+", "_", name)
        stem = self.folder / f"{self.count:02d}-{slug}"
        label = f"{name} ({page.url.split('//', 1)[-1].split('/', 1)[-1]})"
        if axe:
            violations = axe_violations(page)
            AXE_RESULTS[name] = sorted(f"{v.id} ({v.impact})" for v in violations)
            failing = [v for v in violations if v.impact in FAILING_IMPACTS]
            for v in failing:
                self.problems.append(f"{label}: axe {v}")
        if screenshot:
            page.screenshot(path=f"{stem}-1280.png", full_page=True)
        if docs:
            (ARTIFACTS / "docs").mkdir(exist_ok=True)
            page.screenshot(path=ARTIFACTS / "docs" / f"{docs}-1280.png")
        page.set_viewport_size(PHONE)
        try:
            width = page.evaluate("document.documentElement.scrollWidth")
            if width > PHONE["width"]:
                culprits = page.evaluate(_OVERFLOWING_JS)
                self.problems.append(
                    f"{label}: {width} px wide at {PHONE['width']} px: {', '.join(culprits)}"
                )
            if screenshot:
                page.screenshot(path=f"{stem}-375.png", full_page=True)
            if docs:
                page.screenshot(path=ARTIFACTS / "docs" / f"{docs}-375.png")
        finally:
            page.set_viewport_size(DESKTOP)
        for error in getattr(page, "server_errors", []):
            self.problems.append(f"{label}: {error}")
        page.server_errors.clear()
        if page.csp_errors:
            # Reported, not failed: Django admin's own scripts set inline styles.
            CSP_ERRORS.setdefault(name, sorted(set(page.csp_errors)))
            page.csp_errors.clear()

    def assert_clean(self) -> None:
        assert not self.problems, "Problems on the pages seen:\n" + "\n".join(self.problems)


@pytest.fixture
def seen(request):
    checks = PageChecks(request.node.name)
    yield checks
    checks.assert_clean()


def pytest_sessionfinish(session, exitstatus):
    if not AXE_RESULTS:
        return
    worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
    ARTIFACTS.mkdir(exist_ok=True)
    report = {"axe": AXE_RESULTS, "csp": CSP_ERRORS}
    (ARTIFACTS / f"axe-{worker}.json").write_text(
        json.dumps(report, indent=1, ensure_ascii=False, sort_keys=True), encoding="utf-8"
    )
