"""Real Chromium: the campaign list's kind buttons sit under the heading, not over it."""

from __future__ import annotations

import pytest

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


@pytest.mark.parametrize("width", [1280, 375])
def test_campaign_kind_buttons_do_not_overlap_the_heading(page, live_server, settings, width):
    from posti_accounts.services import user_create

    settings.ADMIN_REQUIRE_2FA = False
    staff = user_create(
        email="staff@posti.example",
        password="selaimen-pitka-salasana-2026",
        email_verified=True,
        is_staff=True,
    )
    staff.is_superuser = True
    staff.save(update_fields=["is_superuser"])
    page.set_viewport_size({"width": width, "height": 800})
    page.goto("/accounts/login/?next=/admin/notifications/campaign/")
    page.fill("input[name=login]", staff.email)
    page.fill("input[name=password]", "selaimen-pitka-salasana-2026")
    page.locator("main form button[type=submit]").click()
    page.wait_for_selector(".object-tools")
    heading = page.locator("#content h1").bounding_box()
    for box in [li.bounding_box() for li in page.locator(".object-tools li").all()]:
        apart = (
            box["y"] >= heading["y"] + heading["height"] or box["y"] + box["height"] <= heading["y"]
        )
        beside = box["x"] >= heading["x"] + heading["width"]
        assert apart or beside, (box, heading)
