import re
from io import StringIO

import pytest
from allauth.account.models import EmailAddress
from django.core import mail
from django.core.management import call_command
from django.urls import reverse

from migration.demo import DEMO_PASSWORD as LEGACY_DEMO_PASSWORD
from migration.models import LegacyAccount
from posti_accounts.demo import DEMO_PASSWORD, DEMO_USERS
from posti_accounts.models import User


@pytest.mark.django_db
def test_seed_demo_is_idempotent_and_prints_logins():
    out = StringIO()
    call_command("seed_demo", stdout=out)
    counts = (User.objects.count(), EmailAddress.objects.count())
    call_command("seed_demo", stdout=StringIO())
    assert (User.objects.count(), EmailAddress.objects.count()) == counts
    text = out.getvalue()
    for email, *_ in DEMO_USERS:
        assert email in text
        user = User.objects.get(email=email)
        assert user.check_password(DEMO_PASSWORD)
        assert EmailAddress.objects.get(user=user).verified
    # every user seeded by any app has its EmailAddress row (DESIGN: always in sync)
    assert not User.objects.exclude(emailaddress__email__isnull=False).exists()


MIGRATED_EMAIL = "matti.virtanen@example.fi"


@pytest.mark.django_db
def test_a_migrated_person_logs_in_with_an_old_password_and_sees_the_old_usernames(
    client, django_capture_on_commit_callbacks
):
    """README's demo path: seed_demo merges its legacy set; Matti logs in with his email and
    an old service password, verifies his email, is made to set a new password, and Omat
    tiedot lists the old usernames merged into his account."""
    out = StringIO()
    with django_capture_on_commit_callbacks(execute=True):
        call_command("seed_demo", stdout=out)
    text = out.getvalue()
    assert MIGRATED_EMAIL in text and LEGACY_DEMO_PASSWORD in text
    user = User.objects.get(email=MIGRATED_EMAIL)
    assert set(user.legacy_accounts.values_list("username", flat=True)) == {
        "mvirtanen",
        "matti.v",
        "matti",
    }

    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            reverse("account_login"), {"login": MIGRATED_EMAIL, "password": LEGACY_DEMO_PASSWORD}
        )
    # The old password is accepted; first the email address is verified (the link is mailed).
    assert response.status_code == 302
    assert response["Location"] == reverse("account_email_verification_sent")
    assert [m.to for m in mail.outbox] == [[MIGRATED_EMAIL]]
    link = re.search(r"https?://\S+", mail.outbox[0].body).group(0)
    response = client.post(re.sub(r"^https?://[^/]+", "", link))
    assert response.status_code == 302
    # ... then a new password is required before any other page.
    response = client.get(reverse("posti_accounts:profile"))
    assert response["Location"] == reverse("posti_accounts:action_update_password")
    new_password = "uusi-oma-salasana-2026"
    response = client.post(
        reverse("posti_accounts:action_update_password"),
        {"password1": new_password, "password2": new_password},
    )
    assert response.status_code == 302
    user.refresh_from_db()
    assert user.check_password(new_password) and not user.required_actions

    page = client.get(reverse("posti_accounts:profile"))
    assert page.status_code == 200
    html = page.content.decode()
    for username in ("mvirtanen", "matti.v", "matti"):
        assert f"<td>{username}</td>" in html
    # The old password no longer works; the new one does.
    client.logout()
    old = client.post(
        reverse("account_login"), {"login": MIGRATED_EMAIL, "password": LEGACY_DEMO_PASSWORD}
    )
    assert old.status_code == 200
    new = client.post(reverse("account_login"), {"login": MIGRATED_EMAIL, "password": new_password})
    assert new.status_code == 302


@pytest.mark.django_db
def test_seed_demo_merge_is_idempotent():
    call_command("seed_demo", stdout=StringIO())
    counts = (User.objects.count(), LegacyAccount.objects.filter(state="merged").count())
    assert counts[1] >= 3
    call_command("seed_demo", stdout=StringIO())
    assert (User.objects.count(), LegacyAccount.objects.filter(state="merged").count()) == counts


@pytest.mark.django_db
def test_demo_main_user_finds_the_shared_login_of_the_organization(client):
    from organizations.models import Organization

    call_command("seed_demo", stdout=StringIO())
    organization = Organization.objects.get(business_id="2345678-0")
    client.force_login(User.objects.get(email="paakayttaja@example.fi"))
    url = reverse("migration:shared_logins", kwargs={"organization_id": organization.pk})
    detail = client.get(reverse("organizations:detail", args=[organization.pk]))
    assert f'href="{url}"' in detail.content.decode()
    page = client.get(url)
    assert page.status_code == 200 and "info_lahetys" in page.content.decode()
