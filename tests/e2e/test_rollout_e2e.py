"""Real Chromium: a main user opens the organization's Rollout view, filters it and sends the
reminders; staff open the rollout dashboard; both pages and the help page pass axe's checks.
With ROLLOUT_SCREENSHOTS=<dir> the run also saves screenshots of the pages there."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest
from django.core import mail
from django.utils import timezone

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

PASSWORD = "selaimen-pitka-salasana-2026"
SHOTS = os.environ.get("ROLLOUT_SCREENSHOTS")


def _shot(page, name: str) -> None:
    if SHOTS:
        Path(SHOTS).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(SHOTS) / f"{name}.png"), full_page=True)


def _axe_violations(page) -> list[str]:
    from axe_playwright_python.sync_playwright import Axe

    results = Axe().run(page)
    for violation in results.response["violations"]:
        print(violation["id"], [node["html"][:200] for node in violation["nodes"]])
    return [v["id"] for v in results.response["violations"]]


def _login(page, email: str) -> None:
    page.goto("/accounts/login/")
    page.fill("input[name=login]", email)
    page.fill("input[name=password]", PASSWORD)
    page.locator("main form button[type=submit]").click()
    page.wait_for_url(re.compile(r"/profile/"))


@pytest.fixture
def organization(db):
    from organizations import services
    from posti_accounts.models import User
    from posti_accounts.services import user_create, user_details_confirm

    main = user_create(
        email="paakayttaja@example.fi",
        password=PASSWORD,
        email_verified=True,
        first_name="Pekka",
        last_name="Pääkäyttäjä",
    )
    user_details_confirm(user=main)
    org = services.organization_create(
        name="Selain Oy", business_id="1234567-1", actor=None, main_user=main
    )
    people = [
        ("Aino", "Aaltonen", "aino@example.fi", True),
        ("Bertil", "Berg", "bertil@example.fi", False),
        ("Info", "Toimisto", "info@selain.example", True),
        ("Cecilia", "Carlsson", "cecilia@example.fi", True),
    ]
    for first, last, email, verified in people:
        user = user_create(
            email=email,
            password=PASSWORD,
            email_verified=verified,
            first_name=first,
            last_name=last,
            preferred_language="sv" if first in {"Bertil", "Cecilia"} else "fi",
        )
        services.membership_create(organization=org, user=user, actor=None)
    aino = User.objects.get(email="aino@example.fi")
    user_details_confirm(user=aino)
    User.objects.filter(email="cecilia@example.fi").update(
        email_undeliverable_at=timezone.now(), email_undeliverable_reason="550 5.1.1 user unknown"
    )
    return org


def test_main_user_rollout_view_and_reminders(page, organization):
    _login(page, "paakayttaja@example.fi")
    page.goto(f"/organizations/{organization.pk}/")
    page.get_by_role("link", name="Käyttöönotto").click()
    page.wait_for_url(re.compile(r"/rollout/$"))
    assert "550 5.1.1 user unknown" in page.locator("main table").inner_text()
    assert _axe_violations(page) == []
    _shot(page, "rollout-view")

    page.select_option("select[name=status]", "shared_mailbox")
    page.locator("form.filters button[type=submit]").click()
    rows = page.locator("main table tbody tr")
    assert rows.count() == 1 and "info@selain.example" in rows.inner_text()

    before = len(mail.outbox)  # the "you were added" emails
    page.get_by_role("button", name="Lähetä muistutus kaikille keskeneräisille").click()
    page.wait_for_selector("ul.messages")
    assert "2" in page.locator("ul.messages").inner_text()
    # Not the main user and Aino (done), not Cecilia (her address does not work).
    reminders = mail.outbox[before:]
    assert sorted(m.to[0] for m in reminders) == ["bertil@example.fi", "info@selain.example"]
    swedish = next(m for m in reminders if m.to == ["bertil@example.fi"])
    assert swedish.subject.startswith("Påminnelse")


def test_staff_dashboard_and_help(page, organization, settings):
    from django.contrib.auth.models import Permission

    from config.dashboard import rollout_snapshot_take
    from posti_accounts.services import user_create

    settings.ADMIN_REQUIRE_2FA = False  # the 2FA gate has its own tests
    staff = user_create(
        email="yllapito@posti.example", password=PASSWORD, email_verified=True, is_staff=True
    )
    staff.user_permissions.add(*Permission.objects.filter(codename__startswith="view_"))
    rollout_snapshot_take()
    _login(page, staff.email)
    page.goto("/admin/")
    assert page.get_by_role("link", name="Käyttöönoton tilannenäkymä").count() == 1
    _shot(page, "admin-index")
    page.goto("/admin/rollout/")
    assert page.locator("svg.chart").count() >= 3
    assert "Aktiiviset käyttäjät" in page.locator("main").inner_text()
    assert _axe_violations(page) == []
    _shot(page, "rollout-dashboard")

    # A transactional test starts from an empty database: seed the help texts again.
    import importlib

    from django.apps import apps

    importlib.import_module("config.migrations.0003_help_entries_seed").seed(apps, None)
    page.goto("/help/")
    assert page.locator("main h2").count() >= 8  # the contents and seven questions
    assert _axe_violations(page) == []
    _shot(page, "help")
