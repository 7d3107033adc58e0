"""Sign-up with mandatory verification, password reset (enumeration-safe), email change,
emails sent through the Celery task in the recipient's language."""

from __future__ import annotations

import re

import pytest
from allauth.account.models import EmailAddress
from django.core import mail
from django.urls import reverse

from posti_accounts.models import AuditEvent, User
from tests.posti_accounts._auth_helpers import committing_client, without_csrf

pytestmark = pytest.mark.django_db


@pytest.fixture
def client(django_capture_on_commit_callbacks):
    return committing_client(django_capture_on_commit_callbacks)


NEW_PASSWORD = "another-long-passphrase-77"


def _link(message) -> str:
    match = re.search(r"https?://\S+", message.body)
    assert match, message.body
    return match.group(0)


def _path(url: str) -> str:
    return re.sub(r"^https?://[^/]+", "", url)


def test_signup_requires_verification_then_logs_in(client):
    response = client.post(
        reverse("account_signup"),
        {"email": "Uusi@Example.fi", "password1": NEW_PASSWORD, "password2": NEW_PASSWORD},
    )
    assert response.status_code == 302
    assert response["Location"] == reverse("account_email_verification_sent")
    user = User.objects.get(email="uusi@example.fi")
    assert "_auth_user_id" not in client.session
    address = EmailAddress.objects.get(user=user)
    assert address.email == "uusi@example.fi" and address.primary and not address.verified
    assert user.password_changed_at is not None
    assert AuditEvent.objects.filter(action="user.signed_up", target_user=user).exists()
    assert len(mail.outbox) == 1 and mail.outbox[0].to == ["uusi@example.fi"]

    # Not verified: logging in only re-sends the link.
    client.post(reverse("account_login"), {"login": user.email, "password": NEW_PASSWORD})
    assert "_auth_user_id" not in client.session

    confirm = _path(_link(mail.outbox[0]))
    client.get(confirm)
    response = client.post(confirm)
    assert response.status_code == 302
    address.refresh_from_db()
    assert address.verified
    assert AuditEvent.objects.filter(action="email.verified", target_user=user).exists()
    client.logout()
    client.post(reverse("account_login"), {"login": user.email, "password": NEW_PASSWORD})
    assert client.session["_auth_user_id"] == str(user.pk)


def test_signup_stores_the_page_language(client):
    client.cookies["django_language"] = "sv"
    client.post(
        reverse("account_signup"),
        {"email": "svensk@example.fi", "password1": NEW_PASSWORD, "password2": NEW_PASSWORD},
    )
    assert User.objects.get(email="svensk@example.fi").preferred_language == "sv"


def test_signup_with_taken_email_does_not_create_second_user(client, user):
    client.post(
        reverse("account_signup"),
        {"email": user.email.upper(), "password1": NEW_PASSWORD, "password2": NEW_PASSWORD},
    )
    assert User.objects.filter(email=user.email).count() == 1


def test_emails_go_through_the_task_on_commit(user, django_capture_on_commit_callbacks):
    from django.test import Client

    plain = Client()
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        plain.post(reverse("account_reset_password"), {"email": user.email})
    assert mail.outbox == []  # nothing sent inside the request
    assert len(callbacks) == 1
    callbacks[0]()
    assert len(mail.outbox) == 1


def test_email_rendered_in_recipient_language(client, user):
    user.preferred_language = "sv"
    user.save(update_fields=["preferred_language"])
    client.cookies["django_language"] = "fi"
    client.post(reverse("account_reset_password"), {"email": user.email})
    from django.utils import translation

    with translation.override("sv"):
        from django.utils.translation import gettext

        swedish_fragment = gettext("Choose a new password")  # our subject (issue 17)
    assert swedish_fragment in mail.outbox[0].subject


def test_password_reset_is_enumeration_safe(client, user):
    known = client.post(reverse("account_reset_password"), {"email": user.email})
    unknown = client.post(reverse("account_reset_password"), {"email": "ghost@example.fi"})
    assert known.status_code == unknown.status_code == 302
    assert known["Location"] == unknown["Location"]
    page_known = without_csrf(client.get(known["Location"]).content)
    page_unknown = without_csrf(client.get(unknown["Location"]).content)
    assert page_known == page_unknown
    # Each address gets exactly one email: a reset link, or an "unknown account" notice.
    assert [m.to for m in mail.outbox] == [[user.email], ["ghost@example.fi"]]
    assert "/password/reset/key/" in mail.outbox[0].body
    assert "/password/reset/key/" not in mail.outbox[1].body


def test_password_reset_changes_password_and_records(client, user):
    client.post(reverse("account_reset_password"), {"email": user.email})
    url = _path(_link(mail.outbox[0]))
    response = client.get(url)
    assert response.status_code == 302  # allauth moves the key into the session
    response = client.post(
        response["Location"], {"password1": NEW_PASSWORD, "password2": NEW_PASSWORD}
    )
    assert response.status_code == 302
    user.refresh_from_db()
    assert user.check_password(NEW_PASSWORD)
    assert user.password_changed_at is not None
    assert AuditEvent.objects.filter(action="password.changed", target_user=user).exists()


def _reauthenticate(client, password):
    client.post(reverse("account_reauthenticate"), {"password": password})


def test_email_change_keeps_old_login_until_verified(client, user, password):
    old_email = user.email
    client.post(reverse("account_login"), {"login": old_email, "password": password})
    _reauthenticate(client, password)
    response = client.post(
        reverse("account_email"), {"action_add": "", "email": "uusi.osoite@example.fi"}
    )
    assert response.status_code == 302
    user.refresh_from_db()
    assert user.email == old_email  # unchanged until the new address is verified
    assert AuditEvent.objects.filter(action="email.change_requested", target_user=user).exists()
    confirmation = mail.outbox[-1]
    assert confirmation.to == ["uusi.osoite@example.fi"]

    # The old login still works, the new address does not yet.
    client.logout()
    client.post(reverse("account_login"), {"login": old_email, "password": password})
    assert client.session["_auth_user_id"] == str(user.pk)

    mail.outbox.clear()
    confirm = _path(_link(confirmation))
    client.post(confirm)
    user.refresh_from_db()
    assert user.email == "uusi.osoite@example.fi"
    assert list(EmailAddress.objects.filter(user=user).values_list("email", "verified")) == [
        ("uusi.osoite@example.fi", True)
    ]
    # The old address is told.
    assert [m.to for m in mail.outbox] == [[old_email]]
    assert AuditEvent.objects.filter(action="email.changed", target_user=user).exists()

    client.logout()
    client.post(reverse("account_login"), {"login": old_email, "password": password})
    assert "_auth_user_id" not in client.session
    client.post(reverse("account_login"), {"login": "uusi.osoite@example.fi", "password": password})
    assert client.session["_auth_user_id"] == str(user.pk)


def test_email_change_requires_reauthentication(client, user, password):
    client.post(reverse("account_login"), {"login": user.email, "password": password})
    session = client.session
    session.pop("account_authentication_records", None)
    session.save()
    response = client.post(
        reverse("account_email"), {"action_add": "", "email": "toinen@example.fi"}
    )
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("account_reauthenticate"))
    assert not EmailAddress.objects.filter(email="toinen@example.fi").exists()


def test_audit_details_never_hold_secrets(client, user, password):
    client.post(reverse("account_login"), {"login": user.email, "password": "bad-" + password})
    client.post(reverse("account_login"), {"login": user.email, "password": password})
    _reauthenticate(client, password)
    client.post(
        reverse("account_change_password"),
        {"oldpassword": password, "password1": NEW_PASSWORD, "password2": NEW_PASSWORD},
    )
    dump = str(list(AuditEvent.objects.values_list("details", flat=True)))
    assert password not in dump and NEW_PASSWORD not in dump
    assert AuditEvent.objects.filter(action="password.changed").exists()
