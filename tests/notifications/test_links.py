import hashlib
import json
import logging
import re
from datetime import timedelta

import pytest
from allauth.account.models import EmailAddress
from django.core import mail
from django.urls import reverse
from django.utils import timezone
from django_otp.plugins.otp_totp.models import TOTPDevice

from notifications import sending, services
from notifications.models import ActionToken, Campaign, Delivery
from notifications.selectors import campaign_funnel
from posti_accounts import twofactor
from posti_accounts.models import AuditEvent
from posti_accounts.services import user_details_confirm

from .conftest import start

pytestmark = pytest.mark.django_db

NEW_PASSWORD = "a-brand-new-Passphrase-2027"


def _link_for(user) -> str:
    [message] = [m for m in mail.outbox if m.to == [user.email]]
    return re.search(r"http://testserver(/n/a/[^/\s]+/)", message.body).group(1)


@pytest.fixture
def sent_verify(make_user, make_campaign, staff, settings):
    settings.SITE_URL = "http://testserver"
    user = make_user(verified=False)
    campaign = make_campaign(kind=Campaign.Kind.VERIFY_AND_RENEW, audience_unverified_email=True)
    start(campaign, staff)
    sending.deliveries_send_batch(campaign_id=campaign.pk)
    user.refresh_from_db()
    return campaign, user, _link_for(user)


def test_only_hash_of_token_stored(client, sent_verify):
    _campaign, user, link = sent_verify
    raw = link.split("/")[3]
    assert len(raw) >= 40
    row = ActionToken.objects.get()
    assert row.token_hash == hashlib.sha256(raw.encode()).hexdigest()
    assert row.sent_to == user.email
    client.post(link)
    # Not in any audit event either (link use, email verified, ...).
    details = list(AuditEvent.objects.values_list("details", flat=True))
    assert details and raw not in json.dumps(details)


def test_get_shows_confirm_page_without_using_link(client, sent_verify):
    _campaign, user, link = sent_verify
    response = client.get(link)
    assert response.status_code == 200
    assert user.email in response.content.decode()
    assert ActionToken.objects.get().used_at is None
    assert not EmailAddress.objects.get(user=user).verified


def test_link_verifies_email_then_password_can_be_set(client, sent_verify):
    campaign, user, link = sent_verify
    assert user.requires_verify_email and user.requires_update_password
    response = client.post(link)
    assert response.status_code == 302
    assert response["Location"] == reverse("notifications:password_set")
    user.refresh_from_db()
    assert EmailAddress.objects.get(user=user).verified
    assert not user.requires_verify_email
    assert Delivery.objects.get(campaign=campaign, user=user).completed_action_at is not None
    assert "_auth_user_id" not in client.session  # not logged in by the link

    response = client.post(
        reverse("notifications:password_set"),
        {"new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD},
    )
    assert response.status_code == 302
    user.refresh_from_db()
    assert user.check_password(NEW_PASSWORD)
    assert user.password_changed_at is not None
    assert user.required_actions == []
    assert AuditEvent.objects.filter(target_user=user, action="password.changed").exists()
    # The password step was one-off too.
    again = client.get(reverse("notifications:password_set"))
    assert again.status_code == 410


def test_link_is_single_use(client, sent_verify):
    _campaign, _user, link = sent_verify
    assert client.post(link).status_code == 302
    other = client.__class__()
    for response in (other.get(link), other.post(link)):
        assert response.status_code == 410
        assert str(services.MSG_LINK_USED) in response.content.decode()


def test_link_expires(client, sent_verify, settings):
    _campaign, user, link = sent_verify
    assert settings.CAMPAIGN_LINK_EXPIRY_DAYS == 14
    row = ActionToken.objects.get()
    assert row.expires_at - timezone.now() > timedelta(days=13, hours=23)
    ActionToken.objects.update(expires_at=timezone.now() - timedelta(seconds=1))
    response = client.post(link)
    assert response.status_code == 410
    assert str(services.MSG_LINK_EXPIRED) in response.content.decode()
    assert not EmailAddress.objects.get(user=user).verified


def test_unknown_link_404(client, db):
    response = client.get("/n/a/not-a-real-token/")
    assert response.status_code == 404
    assert str(services.MSG_LINK_INVALID) in response.content.decode()


def test_weak_password_refused(client, sent_verify):
    _campaign, user, link = sent_verify
    client.post(link)
    response = client.post(
        reverse("notifications:password_set"), {"new_password1": "short", "new_password2": "short"}
    )
    assert response.status_code == 200
    user.refresh_from_db()
    assert user.password_changed_at is None


def test_check_details_link_leads_to_confirm_step(
    client, make_user, make_campaign, staff, settings
):
    settings.SITE_URL = "http://testserver"
    user = make_user()
    start(make_campaign(kind=Campaign.Kind.CHECK_DETAILS), staff)
    sending.deliveries_send_batch(campaign_id=Campaign.objects.get().pk)
    response = client.get(_link_for(user))
    assert response.status_code == 302
    assert response["Location"] == "/profile/actions/check-details/"


def test_funnel_counts(client, make_user, make_campaign, staff, settings):
    settings.SITE_URL = "http://testserver"
    users = [make_user(verified=False) for _ in range(4)]
    user_details_confirm(user=users[3])  # before the email: does not count
    campaign = make_campaign(kind=Campaign.Kind.VERIFY_AND_RENEW, audience_unverified_email=True)
    start(campaign, staff)
    sending.deliveries_send_batch(campaign_id=campaign.pk)
    assert campaign_funnel(campaign=campaign) == {
        "sent": 4,
        "confirmed_details": 0,
        "verified_email": 0,
        "new_password": 0,
    }
    # user 0 opens the link and sets a password; user 1 only verifies; user 2 confirms details
    client.post(_link_for(users[0]))
    client.post(
        reverse("notifications:password_set"),
        {"new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD},
    )
    client.__class__().post(_link_for(users[1]))
    user_details_confirm(user=users[2])
    assert campaign_funnel(campaign=campaign) == {
        "sent": 4,
        "confirmed_details": 1,
        "verified_email": 2,
        "new_password": 1,
    }


@pytest.mark.parametrize(
    ("language", "text"),
    [("fi", "Linkki ei ole voimassa."), ("sv", "Länken är inte giltig."), ("en", "not valid")],
)
def test_link_pages_translated(client, db, language, text):
    response = client.get("/n/a/unknown/", HTTP_ACCEPT_LANGUAGE=language)
    assert text in response.content.decode()


def _with_2fa(user):
    from django_otp.oath import totp

    device = twofactor.totp_setup_start(user=user).device
    twofactor.totp_setup_confirm(user=user, code=f"{totp(device.bin_key):06d}")
    device.refresh_from_db()
    return lambda: f"{totp(device.bin_key, step=device.step, t0=device.t0, drift=1):06d}"


def test_2fa_account_needs_a_code_to_set_password(client, sent_verify):
    """The emailed link proves only access to the mailbox; with 2FA on, setting the
    password also takes a code, or a forwarded link would bypass the second factor."""
    _campaign, user, link = sent_verify
    next_code = _with_2fa(user)
    client.post(link)
    url = reverse("notifications:password_set")
    assert 'name="otp_code"' in client.get(url).content.decode()
    passwords = {"new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD}
    for data in (passwords, {**passwords, "otp_code": "000000"}):
        response = client.post(url, data)
        assert response.status_code == 200
        user.refresh_from_db()
        assert not user.check_password(NEW_PASSWORD) and user.password_changed_at is None
    assert AuditEvent.objects.filter(target_user=user, action="2fa.failed").exists()
    # (django-otp slows down guessing after a failure; let that time pass.)
    TOTPDevice.objects.filter(user=user).update(
        throttling_failure_count=0, throttling_failure_timestamp=None
    )
    response = client.post(url, {**passwords, "otp_code": next_code()})
    assert response.status_code == 302
    user.refresh_from_db()
    assert user.check_password(NEW_PASSWORD)
    assert user.required_actions == []


def test_password_change_notifies_the_account_owner(
    client, sent_verify, django_capture_on_commit_callbacks
):
    _campaign, user, link = sent_verify
    mail.outbox.clear()
    client.post(link)
    with django_capture_on_commit_callbacks(execute=True):
        client.post(
            reverse("notifications:password_set"),
            {"new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD},
        )
    assert [m.to for m in mail.outbox] == [[user.email]]
    assert NEW_PASSWORD not in mail.outbox[0].body


def test_link_refused_after_the_address_changed(client, sent_verify):
    """Sent to the old address: it proves nothing about the account's new one."""
    from django.contrib.auth import get_user_model

    _campaign, user, link = sent_verify
    get_user_model().objects.filter(pk=user.pk).update(email="new-address@example.fi")
    EmailAddress.objects.filter(user=user).update(email="new-address@example.fi")
    for response in (client.get(link), client.post(link)):
        assert response.status_code == 404
        assert str(services.MSG_LINK_INVALID) in response.content.decode()
    assert not EmailAddress.objects.get(user=user).verified
    assert ActionToken.objects.get().used_at is None
    assert client.get(reverse("notifications:password_set")).status_code == 410


def test_token_not_logged_on_error_pages(client, sent_verify, caplog):
    _campaign, _user, link = sent_verify
    raw = link.split("/")[3]
    client.post(link)
    with caplog.at_level(logging.DEBUG):
        assert client.post(link).status_code == 410  # used
        assert client.get("/n/a/" + raw[::-1] + "/").status_code == 404  # unknown
    assert raw not in caplog.text and raw[::-1] not in caplog.text
