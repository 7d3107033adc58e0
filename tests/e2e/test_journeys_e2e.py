"""The journeys of issue 17 through the real pages in Chromium, checking what the person sees.

Every page reached is passed to `seen` (conftest.py): axe-core finds no serious or critical
violation, the page fits a 375 px phone screen, no 5xx and no CSP error, and screenshots at
1280 px and 375 px land in tests/e2e/artifacts/.
"""

from __future__ import annotations

import re
import time
from urllib.parse import urlparse

import pytest
from django.core import mail

from .conftest import ARTIFACTS

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

PASSWORD = "selaimen-pitka-salasana-2026"
NEW_PASSWORD = "uusi-selaimen-salasana-2027"
SUBMIT = "main form button[type=submit]"
LOGOUT = "header form[action='/accounts/logout/'] button"


def _links(text: str) -> list[str]:
    return [re.sub(r"^https?://[^/]+", "", u) for u in re.findall(r"https?://\S+", text)]


def _mail_to(address: str):
    return [m for m in mail.outbox if address in m.to]


def _main(page) -> str:
    return page.locator("main").inner_text()


def _away_from_step_boundary(step: int = 30) -> None:
    """A code typed in the last seconds of its 30 s step may reach the server in the next
    one; wait for a fresh step so the test never depends on that race."""
    if time.time() % step > step - 4:
        time.sleep(step - time.time() % step + 0.1)


def _reauthenticate_if_asked(page, seen, password: str = PASSWORD) -> None:
    """Sensitive pages ask for the password again (allauth reauthentication)."""
    if "/accounts/reauthenticate/" in page.url:
        seen(page, "reauthenticate")
        page.fill("input[name=password]", password)
        page.locator(SUBMIT).click()
        page.wait_for_load_state()


def _log_in(page, email: str, password: str) -> None:
    page.goto("/accounts/login/")
    page.fill("input[name=login]", email)
    page.fill("input[name=password]", password)
    page.locator(SUBMIT).click()
    page.wait_for_load_state()


# --- 1. Sign up, verify, Omat tiedot, change email, 2FA, TOTP and backup-code login -----------
def test_journey_signup_profile_email_change_2fa(page, seen):
    from django_otp.oath import totp
    from django_otp.plugins.otp_totp.models import TOTPDevice

    email, new_email = "selain@example.fi", "selain.uusi@example.fi"
    page.goto("/")
    seen(page, "home")
    page.goto("/accounts/signup/")
    seen(page, "signup")
    page.fill("input[name=email]", email)
    page.fill("input[name=password1]", PASSWORD)
    page.fill("input[name=password2]", PASSWORD)
    page.locator(SUBMIT).click()
    page.wait_for_url(re.compile(r"/accounts/confirm-email/$"))
    seen(page, "verification sent")
    assert email in _main(page)

    (confirm,) = _mail_to(email)
    page.goto(next(u for u in _links(confirm.body) if "confirm-email" in u))
    seen(page, "confirm email")
    page.locator(SUBMIT).click()
    page.wait_for_url(re.compile(r"/profile/$"))
    seen(page, "profile (new user)")
    assert email in _main(page)

    page.locator(LOGOUT).click()
    page.wait_for_load_state()
    page.goto("/accounts/login/")
    seen(page, "login")
    _log_in(page, email, PASSWORD)
    page.wait_for_url(re.compile(r"/profile/$"))

    # Edit Omat tiedot: what was typed is what the page then shows.
    page.locator("main a[href='/profile/details/']").click()
    page.wait_for_url(re.compile(r"/profile/details/$"))
    seen(page, "edit details")
    page.fill("input[name=first_name]", "Selma")
    page.fill("input[name=last_name]", "Selaimellinen")
    page.fill("input[name=phone]", "040 123 4567")
    page.locator(SUBMIT).click()
    page.wait_for_url(re.compile(r"/profile/$"))
    seen(page, "profile saved", docs="omat-tiedot")
    text = _main(page)
    assert "Selma Selaimellinen" in text
    assert "+358 40 1234567" in text or "+358 40 123 4567" in text
    assert page.locator("main .messages .success").count() == 1

    # Change the email: the old one keeps working until the new one is verified.
    page.goto("/accounts/email/")
    seen(page, "change email")
    for _attempt in range(2):
        page.fill("main input[name=email]:not([disabled])", new_email)
        page.locator("main button[name=action_add]").click()
        page.wait_for_load_state()
        # The change asks for the password again, then shows the empty form once more.
        _reauthenticate_if_asked(page, seen)
        if "/accounts/email/" in page.url and _mail_to(new_email):
            break
    seen(page, "change email pending")
    assert new_email in page.locator("main").inner_html()
    (change_mail,) = _mail_to(new_email)
    page.goto(next(u for u in _links(change_mail.body) if "confirm-email" in u))
    page.locator(SUBMIT).click()
    page.wait_for_load_state()
    page.goto("/profile/")
    assert new_email in _main(page)
    assert email not in _main(page).replace(new_email, "")

    # 2FA: the secret shown is the device's; the code computed from it turns 2FA on.
    page.goto("/profile/security/2fa/")
    seen(page, "2fa overview (off)")
    page.goto("/profile/security/2fa/setup/")
    _reauthenticate_if_asked(page, seen)
    page.wait_for_url(re.compile(r"/profile/security/2fa/setup/"))
    seen(page, "2fa setup", screenshot=False)  # the screenshot would hold the secret
    secret = page.locator("#totp-secret").inner_text()
    device = TOTPDevice.objects.get(user__email=new_email, confirmed=False)
    from posti_accounts.twofactor import totp_secret

    assert secret == totp_secret(device)
    # The previous step's code (one step of drift is allowed), so that the current one is
    # still unused for the login below without waiting 30 s.
    _away_from_step_boundary()
    page.fill("input[name=code]", f"{totp(device.bin_key, drift=-1):06d}")
    page.locator(SUBMIT).click()
    page.wait_for_url(re.compile(r"/backup-codes/"))
    seen(page, "backup codes", screenshot=False)
    codes = [c.strip() for c in page.locator("#backup-codes li").all_inner_texts()]
    assert len(codes) == 10

    # Log out and in with a TOTP code.
    page.locator(LOGOUT).click()
    page.wait_for_load_state()
    _log_in(page, new_email, PASSWORD)
    page.wait_for_url(re.compile(r"/profile/2fa/authenticate/"))
    seen(page, "2fa code at login", docs="2fa-login")
    device.refresh_from_db()
    _away_from_step_boundary()
    page.fill("input[name=code]", f"{totp(device.bin_key):06d}")
    page.locator(SUBMIT).click()
    page.wait_for_url(re.compile(r"/profile/$"))
    assert page.locator(LOGOUT).count() == 1

    # ... and with a backup code, which is then spent.
    page.locator(LOGOUT).click()
    page.wait_for_load_state()
    _log_in(page, new_email, PASSWORD)
    page.wait_for_url(re.compile(r"/profile/2fa/authenticate/"))
    page.fill("input[name=code]", codes[0])
    page.locator(SUBMIT).click()
    page.wait_for_url(re.compile(r"/profile/$"))
    page.goto("/profile/security/2fa/")
    seen(page, "2fa overview (on)")
    assert "9" in _main(page)

    page.goto("/profile/sessions/")
    seen(page, "sessions")
    page.goto("/profile/events/")
    seen(page, "security events")


# --- 2. Main user invites (paste and CSV), both accept, grant, remove, last main user ---------
def _org_with_main_user(name="Selain Oy", business_id="1234567-1"):
    from organizations import services
    from organizations.models import EService
    from posti_accounts.services import user_create

    for code, fi, sv, en in [
        ("seuranta", "Seuranta", "Spårning", "Tracking"),
        ("lahetykset", "Lähetykset", "Försändelser", "Shipments"),
    ]:
        EService.objects.get_or_create(code=code, name_fi=fi, name_sv=sv, name_en=en)
    main = user_create(
        email="paakayttaja@example.fi",
        password=PASSWORD,
        email_verified=True,
        first_name="Pekka",
        last_name="Pääkäyttäjä",
    )
    org = services.organization_create(
        name=name, business_id=business_id, actor=None, main_user=main
    )
    return main, org


REMOVE = "main a[href$='/remove/'], main form[action$='/remove/'] button[type=submit]"


def _remove_member(page, seen, name: str) -> None:
    """Press Remove on the member's page, and confirm where a confirmation step is shown."""
    page.locator(REMOVE).first.click()
    page.wait_for_load_state()
    if "/remove/" in page.url:
        seen(page, f"confirm removal of {name}")
        page.locator("main form[method=post] button[type=submit].danger").click()
        page.wait_for_load_state()


def test_journey_main_user_invites_grants_and_removes(page, new_page, seen, tmp_path):
    from django.utils import translation

    from organizations.models import Membership
    from organizations.services import MSG_LAST_MAIN_USER
    from posti_accounts.services import user_create

    main, org = _org_with_main_user()
    existing = user_create(
        email="olemassa@example.fi",
        password=PASSWORD,
        email_verified=True,
        first_name="Olli",
        last_name="Olemassaoleva",
    )
    newcomer = "uusi.henkilo@example.fi"

    _log_in(page, main.email, PASSWORD)
    page.wait_for_url(re.compile(r"/profile/$"))
    page.goto("/organizations/")
    seen(page, "organizations")
    page.locator("main a", has_text="Selain Oy").first.click()
    page.wait_for_url(re.compile(rf"/organizations/{org.pk}/$"))
    seen(page, "members", docs="members")

    # The person with an account: pasted. The one without: a CSV file.
    page.locator("nav.org-nav a[href$='/invite/']").click()
    page.wait_for_url(re.compile(r"/invite/$"))
    seen(page, "invite")
    page.fill("textarea[name=emails]", f"{existing.email}\nnot-an-address")
    page.locator(SUBMIT).click()
    page.wait_for_selector("tr.invite-invited")
    seen(page, "invite result (pasted)")
    assert page.locator("tr.invite-invited").inner_text().startswith(existing.email)
    assert page.locator("tr.invite-invalid").count() == 1

    csv_file = tmp_path / "kutsut.csv"
    csv_file.write_text(f"email,role,services\n{newcomer},member,seuranta\n", encoding="utf-8")
    page.set_input_files("input[name=csv_file]", str(csv_file))
    page.locator(SUBMIT).click()
    page.wait_for_selector("tr.invite-invited")
    seen(page, "invite result (CSV)", docs="invite-result")
    assert page.locator("tr.invite-invited").inner_text().startswith(newcomer)

    page.locator("nav.org-nav a[href$='/invitations/']").click()
    seen(page, "pending invitations")
    table = page.locator("main table").inner_text()
    assert existing.email in table and newcomer in table

    # The existing user accepts, logged in in their own browser.
    other = new_page()
    (invite_existing,) = _mail_to(existing.email)
    link = next(u for u in _links(invite_existing.body) if "/organizations/invitations/" in u)
    other.goto(link)
    seen(other, "invitation (logged out)")
    other.locator("main a[href*='/accounts/login/']").click()
    other.fill("input[name=login]", existing.email)
    other.fill("input[name=password]", PASSWORD)
    other.locator(SUBMIT).click()
    other.wait_for_url(re.compile(r"/organizations/invitations/"))
    seen(other, "invitation (logged in)")
    other.locator(SUBMIT).click()
    other.wait_for_url(re.compile(rf"/organizations/{org.pk}/$"))
    assert "Selain Oy" in _main(other)

    # The newcomer signs up from the link (email prefilled), verifies and lands in it.
    third = new_page()
    (invite_new,) = _mail_to(newcomer)
    third.goto(next(u for u in _links(invite_new.body) if "/organizations/invitations/" in u))
    third.locator("main a[href*='/accounts/signup/']").click()
    third.wait_for_url(re.compile(r"/accounts/signup/"))
    assert third.input_value("input[name=email]") == newcomer
    third.fill("input[name=password1]", PASSWORD)
    third.fill("input[name=password2]", PASSWORD)
    third.locator(SUBMIT).click()
    third.wait_for_url(re.compile(r"/accounts/confirm-email/$"))
    assert not Membership.objects.filter(user__email=newcomer).exists()
    confirm = _mail_to(newcomer)[-1]
    third.goto(next(u for u in _links(confirm.body) if "confirm-email" in u))
    third.locator(SUBMIT).click()
    third.wait_for_load_state()
    joined = Membership.objects.get(user__email=newcomer)
    assert joined.organization_id == org.pk and joined.status == "active"
    assert list(joined.services.values_list("code", flat=True)) == ["seuranta"]
    third.goto("/organizations/")
    assert "Selain Oy" in _main(third)

    # The main user sees both, grants an e-service to one and removes the other.
    page.goto(f"/organizations/{org.pk}/")
    members = page.locator("main table").inner_text()
    assert existing.email in members and newcomer in members
    page.locator("main table a", has_text="Olli Olemassaoleva").click()
    page.wait_for_url(re.compile(r"/members/\d+/$"))
    seen(page, "member")
    page.locator("main input[name=services][value=lahetykset]").check()
    page.locator("main form[action$='/services/'] button[type=submit]").click()
    page.wait_for_load_state()
    seen(page, "member services saved")
    assert page.locator("main .messages .success").count() == 1
    granted = Membership.objects.get(user=existing, organization=org)
    assert list(granted.services.values_list("code", flat=True)) == ["lahetykset"]

    page.goto(f"/organizations/{org.pk}/members/{joined.pk}/")
    _remove_member(page, seen, newcomer)
    seen(page, "member removed")
    joined.refresh_from_db()
    assert joined.status == "removed"
    assert newcomer not in page.locator("main table").inner_text()

    # Removing themselves, the last main user, is refused with the reason.
    own = Membership.objects.get(user=main, organization=org)
    page.goto(f"/organizations/{org.pk}/members/{own.pk}/")
    _remove_member(page, seen, "self")
    seen(page, "last main user refused")
    with translation.override("fi"):
        expected = str(MSG_LAST_MAIN_USER)
    assert expected in page.locator("main .messages .error").inner_text()
    own.refresh_from_db()
    assert own.status == "active" and own.role == "main_user"

    page.goto(f"/organizations/{org.pk}/audit/")
    seen(page, "audit trail")


def test_remove_member_asks_for_confirmation_first(page, seen):
    """Remove is a destructive action: the first press shows a confirmation naming the
    member, without JavaScript, and nothing changes until it is confirmed."""
    from organizations.services import membership_create
    from posti_accounts.services import user_create

    main, org = _org_with_main_user()
    member = user_create(
        email="poistettava@example.fi",
        password=PASSWORD,
        email_verified=True,
        first_name="Paula",
        last_name="Poistettava",
    )
    membership = membership_create(organization=org, user=member, actor=None)
    _log_in(page, main.email, PASSWORD)
    page.goto(f"/organizations/{org.pk}/members/{membership.pk}/")
    button = page.locator(REMOVE).first
    # The button's accessible name says whom it removes.
    assert re.search("Paula Poistettava|poistettava@example.fi", button.text_content() or "")
    button.click()
    page.wait_for_load_state()
    membership.refresh_from_db()
    assert membership.status == "active"
    seen(page, "remove confirmation")
    assert "Paula Poistettava" in _main(page)
    page.locator("main form[method=post] button[type=submit].danger").click()
    page.wait_for_load_state()
    membership.refresh_from_db()
    assert membership.status == "removed"


# --- 3. Staff run a verify_and_renew campaign; a recipient verifies and renews --------------
def _staff_logged_in(page, seen=None):
    """A superuser with 2FA on logs in to the admin with a backup code."""
    from django_otp.plugins.otp_totp.models import TOTPDevice

    from posti_accounts import twofactor
    from posti_accounts.services import user_create

    staff = user_create(
        email="yllapito@example.fi",
        password=PASSWORD,
        email_verified=True,
        first_name="Ylli",
        last_name="Ylläpitäjä",
    )
    type(staff).objects.filter(pk=staff.pk).update(is_staff=True, is_superuser=True)
    TOTPDevice.objects.create(user=staff, name="app", confirmed=True)
    codes = twofactor._backup_codes_replace(staff)
    page.goto("/admin/")
    page.wait_for_url(re.compile(r"/accounts/login/"))
    page.fill("input[name=login]", staff.email)
    page.fill("input[name=password]", PASSWORD)
    page.locator(SUBMIT).click()
    page.wait_for_url(re.compile(r"/profile/2fa/authenticate/"))
    page.fill("input[name=code]", codes[0])
    page.locator(SUBMIT).click()
    page.wait_for_load_state()
    if "/admin/" not in page.url:
        page.goto("/admin/")
    _reauthenticate_if_asked(page, seen) if seen else None
    page.wait_for_url(re.compile(r"/admin/$"))
    return staff


def _press(page, seen, button_text, name: str) -> None:
    """Press a campaign action; where a confirmation page follows, confirm it there."""
    page.locator("#content-main button[type=submit]", has_text=button_text).first.click()
    page.wait_for_load_state()
    path = urlparse(page.url).path.rstrip("/")
    if "/control/" in path and path.endswith(("start", "confirm")):
        seen(page, f"confirm {name}")
        page.locator("#content-main form[method=post] button[type=submit]").first.click()
        page.wait_for_load_state()


def test_journey_staff_campaign_verify_and_renew(page, new_page, seen):
    from django.utils import translation

    from notifications.models import Campaign
    from organizations.services import membership_create
    from posti_accounts.services import user_create

    _main_user, org = _org_with_main_user()
    recipient = user_create(
        email="vastaanottaja@example.fi",
        password=PASSWORD,
        email_verified=False,
        first_name="Veera",
        last_name="Vastaanottaja",
    )
    membership_create(organization=org, user=recipient, actor=None)
    _staff_logged_in(page, seen)
    seen(page, "admin index")

    page.goto("/admin/notifications/campaign/")
    seen(page, "admin campaigns")
    page.locator(f"a[href*='kind={Campaign.Kind.VERIFY_AND_RENEW}']").first.click()
    page.wait_for_url(re.compile(r"/admin/notifications/campaign/add/"))
    seen(page, "admin campaign add")
    page.fill("input[name=name]", "Vaihe 3: Selain Oy")
    page.fill("input[name=audience_organizations]", str(org.pk))
    page.locator("input[name=_continue]").click()
    page.wait_for_url(re.compile(r"/admin/notifications/campaign/\d+/change/"))
    seen(page, "admin campaign saved")
    campaign = Campaign.objects.get(name="Vaihe 3: Selain Oy")
    assert campaign.kind == Campaign.Kind.VERIFY_AND_RENEW
    page.locator("a[href$='/control/']").first.click()
    page.wait_for_url(re.compile(r"/control/$"))
    seen(page, "admin campaign control")
    # Staff are not in the audience: the main user and the recipient are.
    assert page.locator(".recipient-count").inner_text().strip() == "2"

    with translation.override("fi"):
        start = translation.gettext("Start now")
    _press(page, seen, start, "start")
    page.goto(f"/admin/notifications/campaign/{campaign.pk}/control/")
    campaign.refresh_from_db()
    assert campaign.status == Campaign.Status.DONE, campaign.status
    assert page.locator(".progress-counts td").nth(2).inner_text().strip() == "2"

    # The recipient opens the link, verifies (POST) and sets a new password.
    link = next(u for m in _mail_to(recipient.email) for u in _links(m.body) if "/n/a/" in u)
    other = new_page()
    other.goto(link)
    seen(other, "campaign link")
    assert recipient.email in _main(other)
    other.locator(SUBMIT).click()
    other.wait_for_url(re.compile(r"/n/"))
    seen(other, "campaign new password")
    other.fill("input[name=new_password1]", NEW_PASSWORD)
    other.fill("input[name=new_password2]", NEW_PASSWORD)
    other.locator(SUBMIT).click()
    other.wait_for_url(re.compile(r"/accounts/login/"))
    _log_in(other, recipient.email, NEW_PASSWORD)
    other.wait_for_url(re.compile(r"/profile/$"))
    assert "Veera Vastaanottaja" in _main(other)

    page.reload()
    seen(page, "admin campaign funnel", docs="campaign-funnel")
    assert page.locator(".funnel-sent").inner_text().strip() == "2"
    assert page.locator(".funnel-verified").inner_text().strip() == "1"
    assert page.locator(".funnel-password").inner_text().strip() == "1"


# --- 4. A migrated user: email + old password, new password, organizations, old usernames ----
LEGACY_PASSWORD = "vanha-salasana-1"


def _stage_and_merge_legacy(tmp_path) -> None:
    """Two old services knew the same person under two usernames; import and merge them."""
    import csv

    from passlib import hash as ph

    from migration.services import legacy_accounts_import, legacy_accounts_merge
    from organizations.models import EService

    people = {
        "lahetykset": ("mvirtanen", "Matti.Virtanen@example.fi ", "admin"),
        "seuranta": ("matti_seuranta", "matti.virtanen@example.fi", "user"),
    }
    for code, (username, email, role) in people.items():
        EService.objects.get_or_create(
            code=code, defaults={"name_fi": code.capitalize(), "name_sv": code, "name_en": code}
        )
        path = tmp_path / f"{code}.csv"
        with path.open("w", encoding="utf-8-sig", newline="") as handle:
            writer = csv.writer(handle, delimiter=";")
            writer.writerow(
                [
                    "username",
                    "email",
                    "first_name",
                    "last_name",
                    "business_id",
                    "organization_name",
                    "role",
                    "password_hash",
                ]
            )
            writer.writerow(
                [
                    username,
                    email,
                    "Matti",
                    "Virtanen",
                    "0112038-9",
                    "Kuljetus Virtanen Oy",
                    role,
                    ph.hex_md5.hash(LEGACY_PASSWORD),
                ]
            )
        legacy_accounts_import(service_code=code, path=path, start_wrap=False)
    legacy_accounts_merge()


def test_journey_migrated_user_renews_and_sees_old_usernames(page, seen, tmp_path):
    from posti_accounts.models import User

    _stage_and_merge_legacy(tmp_path)
    email = "matti.virtanen@example.fi"
    assert User.objects.filter(email=email).exists()

    # Typing an old username shows the guidance to use the email address.
    page.goto("/accounts/login/")
    page.fill("input[name=login]", "mvirtanen")
    page.fill("input[name=password]", LEGACY_PASSWORD)
    page.locator(SUBMIT).click()
    page.locator("main .errorlist").first.wait_for()
    seen(page, "login with old username")
    guidance = page.locator("main .errorlist").first.inner_text()
    assert "sähköpost" in guidance.lower(), guidance

    # Email + old password: the required actions come one after another.
    _log_in(page, email, LEGACY_PASSWORD)
    seen(page, "required action (first)")
    for _step in range(4):
        if "/actions/verify-email/" in page.url:
            page.locator(SUBMIT).click()
            page.wait_for_load_state()
            seen(page, "verify email link sent")
            link = next(
                u for m in _mail_to(email) for u in _links(m.body) if "/actions/verify-email/" in u
            )
            page.goto(link)
            seen(page, "verify email confirm")
            page.locator(SUBMIT).click()
            page.wait_for_load_state()
        elif page.url.endswith("/accounts/confirm-email/"):
            # Mandatory verification: the login sent a confirmation link.
            seen(page, "verification sent (migrated)")
            link = next(u for m in _mail_to(email) for u in _links(m.body) if "confirm-email" in u)
            page.goto(link)
            page.locator(SUBMIT).click()
            page.wait_for_load_state()
        elif "/actions/update-password/" in page.url:
            seen(page, "set a new password")
            if page.locator("input[name=current_password]").count():
                page.fill("input[name=current_password]", LEGACY_PASSWORD)
            page.fill("input[name=password1]", NEW_PASSWORD)
            page.fill("input[name=password2]", NEW_PASSWORD)
            page.locator(SUBMIT).click()
            page.wait_for_load_state()
        elif "/actions/check-details/" in page.url:
            seen(page, "check details")
            page.locator(SUBMIT).click()
            page.wait_for_load_state()
        else:
            break
    page.wait_for_url(re.compile(r"/profile/$"))
    seen(page, "profile (migrated)", docs="migrated-profile")
    (ARTIFACTS / "docs").mkdir(parents=True, exist_ok=True)
    page.locator("section[aria-labelledby=legacy-usernames-title]").screenshot(
        path=ARTIFACTS / "docs" / "old-usernames-1280.png"
    )
    user = User.objects.get(email=email)
    assert user.required_actions == []
    assert user.check_password(NEW_PASSWORD)
    text = _main(page)
    assert "Kuljetus Virtanen Oy" in text
    assert "mvirtanen" in text and "matti_seuranta" in text

    # The old password no longer works; the new one does.
    page.locator(LOGOUT).click()
    page.wait_for_load_state()
    _log_in(page, email, LEGACY_PASSWORD)
    assert "/accounts/login/" in page.url
    _log_in(page, email, NEW_PASSWORD)
    page.wait_for_url(re.compile(r"/profile/$"))


# --- 5. Every main page in fi, sv and en: no words of another language left -----------------
# Words that only appear when a string is left untranslated (whole words, case-sensitive).
FOREIGN_WORDS = {
    "fi": [
        "Save",
        "Log in",
        "Log out",
        "Cancel",
        "Password",
        "Email address",
        "Spara",
        "Logga",
        "Avbryt",
        "Lösenord",
    ],
    "sv": [
        "Tallenna",
        "Kirjaudu",
        "Peruuta",
        "Salasana",
        "Sähköposti",
        "Omat tiedot",
        "Save",
        "Log in",
        "Cancel",
        "Password",
    ],
    "en": [
        "Tallenna",
        "Kirjaudu",
        "Peruuta",
        "Salasana",
        "Sähköposti",
        "Omat tiedot",
        "Spara",
        "Logga",
        "Avbryt",
        "Lösenord",
    ],
}
# The page text without the language menu (which names every language in its own words).
_VISIBLE_TEXT_JS = """() => {
  const body = document.body.cloneNode(true);
  body.querySelectorAll('#lang-select, script, style').forEach(e => e.remove());
  document.documentElement.appendChild(body);
  const text = body.innerText;
  body.remove();
  return text;
}"""


def _switch_language(page, code: str) -> None:
    page.select_option("#lang-select", code)
    page.locator("form.lang-switcher button[type=submit]").click()
    page.wait_for_load_state()
    assert page.locator("html").get_attribute("lang") == code


def test_journey_language_switch_on_every_main_page(page, seen):
    from organizations.services import membership_create
    from posti_accounts.services import user_create

    main, org = _org_with_main_user()
    colleague = user_create(
        email="kollega@example.fi",
        password=PASSWORD,
        email_verified=True,
        first_name="Kaisa",
        last_name="Kollega",
    )
    member = membership_create(organization=org, user=colleague, actor=None)
    public = ["/", "/accounts/login/", "/accounts/signup/", "/accounts/password/reset/"]
    private = [
        "/profile/",
        "/profile/details/",
        "/profile/events/",
        "/profile/sessions/",
        "/profile/security/2fa/",
        "/accounts/password/change/",
        "/organizations/",
        f"/organizations/{org.pk}/",
        f"/organizations/{org.pk}/invite/",
        f"/organizations/{org.pk}/invitations/",
        f"/organizations/{org.pk}/members/{member.pk}/",
        f"/organizations/{org.pk}/audit/",
    ]
    found: list[str] = []
    for number, language in enumerate(["fi", "sv", "en"]):
        page.goto("/")
        _switch_language(page, language)
        for path in public:
            page.goto(path)
            _foreign_words(page, language, path, found)
            seen(page, f"{language} {path}", axe=number == 0, screenshot=number == 0)
        _log_in(page, main.email, PASSWORD)
        page.wait_for_url(re.compile(r"/profile/$"))
        # The account's own language (Finnish) applies at login; the switch changes it.
        _switch_language(page, language)
        for path in private:
            page.goto(path)
            _reauthenticate_if_asked(page, seen)
            _foreign_words(page, language, path, found)
            shown = path.replace(f"/{org.pk}/", "/<org>/").replace(f"/{member.pk}/", "/<member>/")
            seen(page, f"{language} {shown}", axe=number == 0, screenshot=number == 0)
        page.locator(LOGOUT).click()
        page.wait_for_load_state()
    assert not found, "Untranslated words:\n" + "\n".join(found)


def _foreign_words(page, language: str, path: str, found: list[str]) -> None:
    assert page.locator("html").get_attribute("lang") == language, path
    text = page.evaluate(_VISIBLE_TEXT_JS)
    for word in FOREIGN_WORDS[language]:
        for match in re.finditer(rf"(?<!\w){re.escape(word)}(?!\w)", text):
            context = text[max(0, match.start() - 30) : match.end() + 30].replace("\n", " ")
            found.append(f"{language} {path}: {word!r} in …{context}…")


def _draft_campaign(org):
    from notifications.models import Campaign
    from notifications.services import campaign_save

    campaign = Campaign(name="Vaihe 3", kind=Campaign.Kind.VERIFY_AND_RENEW)
    campaign_save(campaign=campaign, actor=None, changed_fields=[])
    campaign.audience_organizations.set([org])
    return campaign


def test_campaign_start_asks_for_confirmation_first(page, seen):
    """ "Start now" shows a confirmation page with the recipient count; only a POST from that
    page starts the campaign."""
    from django.utils import translation

    from notifications.models import Campaign

    _main_user, org = _org_with_main_user()
    campaign = _draft_campaign(org)
    _staff_logged_in(page, seen)
    page.goto(f"/admin/notifications/campaign/{campaign.pk}/control/")
    with translation.override("fi"):
        start = translation.gettext("Start now")
    page.locator("#content-main button[type=submit]", has_text=start).first.click()
    page.wait_for_load_state()
    campaign.refresh_from_db()
    assert campaign.status == Campaign.Status.DRAFT
    seen(page, "campaign start confirmation")
    assert "1" in page.locator("#content-main").inner_text()  # the recipient count
    page.locator("#content-main form[method=post] button[type=submit]").first.click()
    page.wait_for_load_state()
    campaign.refresh_from_db()
    assert campaign.status != Campaign.Status.DRAFT


def test_rollout_dashboard_shows_renewed_passwords(page, seen):
    """The staff rollout dashboard, linked from the admin, counts who has set a new
    password, in a table beside its chart."""
    _staff_logged_in(page, seen)
    link = page.locator("a", has_text=re.compile("käyttöönot|rollout", re.I))
    assert link.count() >= 1, "no link to the rollout dashboard on the admin index"
    link.first.click()
    page.wait_for_load_state()
    seen(page, "admin rollout dashboard")
    assert page.locator("#content table").count() >= 1
    assert page.locator("#content svg").count() >= 1


# --- Focus ring: at least 3:1 against the page, on the site and in the admin -----------------
_FOCUS_RING_JS = """() => {
  const el = document.activeElement;
  const s = getComputedStyle(el);
  let bg = null, p = el.parentElement;
  while (p) {
    const c = getComputedStyle(p).backgroundColor;
    if (c && c !== 'rgba(0, 0, 0, 0)' && c !== 'transparent') { bg = c; break; }
    p = p.parentElement;
  }
  return {tag: el.tagName, outline: s.outlineColor, width: s.outlineWidth, shadow: s.boxShadow,
          style: s.outlineStyle, background: bg || 'rgb(255, 255, 255)'};
}"""


def _contrast(a: str, b: str) -> float:
    def luminance(rgb: str) -> float:
        r, g, b = (int(x) / 255 for x in re.findall(r"\d+", rgb)[:3])
        lin = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in (r, g, b)]
        return 0.2126 * lin[0] + 0.7152 * lin[1] + 0.0722 * lin[2]

    high, low = sorted([luminance(a), luminance(b)], reverse=True)
    return (high + 0.05) / (low + 0.05)


def _focus_ring_contrasts(page, presses: int) -> list[tuple[str, float]]:
    results = []
    for _ in range(presses):
        page.keyboard.press("Tab")
        ring = page.evaluate(_FOCUS_RING_JS)
        if ring["tag"] == "BODY":
            continue
        assert ring["style"] != "none" and ring["width"] != "0px", ring
        ratio = _contrast(ring["outline"], ring["background"])
        if ring["shadow"].startswith("rgb"):
            # The white gap of the ring is what shows on a dark background.
            ratio = max(ratio, _contrast(ring["shadow"], ring["background"]))
        results.append((ring["tag"], ratio))
    return results


def test_focus_ring_contrast_site_and_admin(page):
    page.goto("/accounts/login/")
    site = _focus_ring_contrasts(page, 6)
    _staff_logged_in(page)
    page.goto("/admin/")
    admin = _focus_ring_contrasts(page, 6)
    assert site and admin
    low = [(tag, round(ratio, 2)) for tag, ratio in site + admin if ratio < 3]
    assert not low, f"focus ring below 3:1: {low}"
