"""Real Chromium at phone width (375 px): the pages people use most never scroll sideways, the
header wraps with "log out" still on screen, and long names and emails wrap."""

from __future__ import annotations

import os
import re

import pytest

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

PASSWORD = "selaimen-pitka-salasana-2026"
PHONE = {"width": 375, "height": 740}
LONG_LOCAL = "hyvin.pitka.sahkopostiosoite.joka.ei.mahdu.kapealle.naytolle"


def _setup():
    from organizations import services
    from organizations.models import EService
    from posti_accounts.services import user_create

    for code, name in [("lahetykset", "Lähetykset"), ("seuranta", "Seuranta")]:
        EService.objects.create(code=code, name_fi=name, name_sv=name, name_en=name)
    main = user_create(
        email=f"{LONG_LOCAL}@esimerkkiyritys-pitka-nimi.example.fi",
        password=PASSWORD,
        email_verified=True,
        first_name="Maria-Kristiina-Johanna-Elisabet",
        last_name="Meikäläinen-Virtanen-Korhonen",
    )
    org = services.organization_create(
        name="Pitkän Nimen Kuljetus- ja Logistiikkapalvelut Osakeyhtiö",
        business_id="1234567-1",
        actor=main,
        main_user=main,
    )
    for i in range(3):
        other = user_create(
            email=f"{LONG_LOCAL}.{i}@toinen-esimerkkiyritys.example.fi",
            password=PASSWORD,
            email_verified=True,
            first_name=f"Henkilö{i}",
            last_name="Pitkäsukunimi-Toinensukunimi",
        )
        membership = services.membership_create(
            organization=org, user=other, services=["lahetykset", "seuranta"], actor=main
        )
        if i == 0:
            services.membership_remove(membership=membership, actor=main)
    services.invitations_bulk_create(
        organization=org,
        rows=[services.InviteRow(email=f"{LONG_LOCAL}.kutsu@example.fi", services=("seuranta",))],
        actor=main,
    )
    return main, org


def _login(page, email):
    page.goto("/accounts/login/")
    page.fill("input[name=login]", email)
    page.fill("input[name=password]", PASSWORD)
    page.locator("main form button[type=submit]").click()
    page.wait_for_url(re.compile(r"/profile/"))


def test_main_pages_fit_a_phone_screen(page, live_server):
    main, org = _setup()
    page.set_viewport_size(PHONE)
    _login(page, main.email)
    paths = [
        "/profile/",
        "/profile/sessions/",
        "/profile/events/",
        "/profile/details/",
        f"/organizations/{org.pk}/",
        f"/organizations/{org.pk}/invite/",
        f"/organizations/{org.pk}/members/{org.memberships.get(user=main).pk}/",
        f"/organizations/{org.pk}/invitations/",
        f"/organizations/{org.pk}/audit/",
        "/organizations/",
    ]
    widths, tables = {}, {}
    for path in paths:
        page.goto(path)
        widths[path] = page.evaluate("document.documentElement.scrollWidth")
        tables[path] = page.evaluate(
            "Array.from(document.querySelectorAll('main table'))"
            ".map(t => t.scrollWidth - t.clientWidth)"
        )
        logout = page.locator("header form[action='/accounts/logout/'] button")
        box = logout.bounding_box()
        assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= PHONE["width"], (
            path,
            box,
        )
    if os.environ.get("LAYOUT_SCREENSHOTS"):
        for path in paths:
            page.goto(path)
            name = path.strip("/").replace("/", "_") or "home"
            page.screenshot(path=f"{os.environ['LAYOUT_SCREENSHOTS']}/{name}.png", full_page=True)
    assert {p: w for p, w in widths.items() if w > PHONE["width"]} == {}
    assert {p: t for p, t in tables.items() if any(o > 1 for o in t)} == {}


def test_long_names_and_emails_wrap_on_desktop(page, live_server):
    main, org = _setup()
    page.set_viewport_size({"width": 1280, "height": 800})
    _login(page, main.email)
    for path in [f"/organizations/{org.pk}/", f"/organizations/{org.pk}/audit/", "/profile/"]:
        page.goto(path)
        overflow = page.evaluate(
            """() => {
              const limit = document.querySelector('main').getBoundingClientRect().right + 1;
              return Array.from(document.querySelectorAll('main *'))
                .filter(el => el.getBoundingClientRect().right > limit)
                .map(el => el.tagName + ':' + el.textContent.slice(0, 40));
            }"""
        )
        assert overflow == [], (path, overflow)
