"""Real Chromium: a main user invites a new person, who signs up from the invitation link
(email prefilled), verifies the address and lands in the organization."""

from __future__ import annotations

import re

import pytest
from django.core import mail

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

PASSWORD = "selaimen-pitka-salasana-2026"


def _links(text: str) -> list[str]:
    return [re.sub(r"^https?://[^/]+", "", u) for u in re.findall(r"https?://\S+", text)]


def test_invite_signup_verify_and_land_in_organization(page, live_server):
    from organizations import services
    from organizations.models import EService, Membership
    from posti_accounts.services import user_create

    EService.objects.create(
        code="seuranta", name_fi="Seuranta", name_sv="Spårning", name_en="Tracking"
    )
    main = user_create(
        email="paakayttaja@example.fi",
        password=PASSWORD,
        email_verified=True,
        first_name="Pekka",
        last_name="Pääkäyttäjä",
    )
    org = services.organization_create(
        name="Selain Oy", business_id="1234567-1", actor=None, main_user=main
    )

    page.goto("/accounts/login/")
    page.fill("input[name=login]", main.email)
    page.fill("input[name=password]", PASSWORD)
    page.locator("main form button[type=submit]").click()
    page.wait_for_url(re.compile(r"/profile/"))

    page.goto(f"/organizations/{org.pk}/invite/")
    page.fill("textarea[name=emails]", "uusi.henkilo@example.fi\nnot-an-address")
    page.check("input[name=services][value=seuranta]")
    page.locator("main form button[type=submit]").click()
    page.wait_for_selector("tr.invite-invited")
    assert page.locator("tr.invite-invited").inner_text().startswith("uusi.henkilo@example.fi")
    assert page.locator("tr.invite-invalid").count() == 1

    page.goto(f"/organizations/{org.pk}/invitations/")
    assert "uusi.henkilo@example.fi" in page.locator("main table").inner_text()

    invitation_mail = next(m for m in mail.outbox if m.to == ["uusi.henkilo@example.fi"])
    link = next(u for u in _links(invitation_mail.body) if "/organizations/invitations/" in u)
    page.locator("header form[action='/accounts/logout/'] button").click()

    page.goto(link)
    page.locator("main a[href*='/accounts/signup/']").click()
    page.wait_for_url(re.compile(r"/accounts/signup/"))
    assert page.input_value("input[name=email]") == "uusi.henkilo@example.fi"
    page.fill("input[name=password1]", PASSWORD)
    page.fill("input[name=password2]", PASSWORD)
    page.locator("main form button[type=submit]").click()
    page.wait_for_url(re.compile(r"/accounts/confirm-email/$"))
    assert not Membership.objects.filter(user__email="uusi.henkilo@example.fi").exists()

    confirm_mail = mail.outbox[-1]
    assert confirm_mail.to == ["uusi.henkilo@example.fi"]
    page.goto(next(u for u in _links(confirm_mail.body) if "confirm-email" in u))
    page.locator("main form button[type=submit]").click()
    page.wait_for_load_state()

    membership = Membership.objects.get(user__email="uusi.henkilo@example.fi")
    assert membership.organization_id == org.pk and membership.status == "active"
    assert list(membership.services.values_list("code", flat=True)) == ["seuranta"]
    page.goto("/organizations/")
    assert "Selain Oy" in page.locator("main").inner_text()
