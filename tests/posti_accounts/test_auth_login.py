"""Login by email, failures, rate limits, the old-username message, session key rotation."""

from __future__ import annotations

import pytest
from django.urls import reverse

from posti_accounts.forms import MSG_LOGIN_WITH_EMAIL
from posti_accounts.models import AuditEvent

pytestmark = pytest.mark.django_db


def _login(client, login, password):
    return client.post(reverse("account_login"), {"login": login, "password": password})


def test_login_by_email_case_insensitive(client, user, password):
    response = _login(client, user.email.upper(), password)
    assert response.status_code == 302
    assert response["Location"] == "/profile/"
    assert client.session["_auth_user_id"] == str(user.pk)
    event = AuditEvent.objects.get(action="login.succeeded")
    assert event.target_user == user


def test_wrong_password_fails_and_is_audited_without_password(client, user):
    response = _login(client, user.email, "wrong-password-123456")
    assert response.status_code == 200
    assert "_auth_user_id" not in client.session
    event = AuditEvent.objects.get(action="login.failed")
    assert event.target_user == user
    assert "wrong-password-123456" not in str(event.details)
    assert event.details == {"known_account": True}


def test_failed_login_unknown_email_has_no_target(client, db):
    _login(client, "nobody@example.fi", "whatever-password-1")
    event = AuditEvent.objects.get(action="login.failed")
    assert event.target_user is None
    assert "whatever-password-1" not in str(event.details)


def test_old_username_gets_email_message(client, user):
    response = _login(client, "matti_legacy", "something-long-enough")
    assert response.status_code == 200
    form = response.context["form"]
    assert str(MSG_LOGIN_WITH_EMAIL) in form.errors["login"]
    # No authentication was even attempted: nothing reveals whether the username existed.
    assert not AuditEvent.objects.filter(action="login.failed").exists()
    assert "_auth_user_id" not in client.session


def test_old_username_message_is_translated(client, db):
    from django.utils import translation

    client.cookies["django_language"] = "sv"
    response = _login(client, "oldname", "x" * 12)
    with translation.override("sv"):
        swedish = str(MSG_LOGIN_WITH_EMAIL)
    with translation.override("en"):
        english = str(MSG_LOGIN_WITH_EMAIL)
    assert swedish != english
    assert swedish in response.context["form"].errors["login"]


def test_rate_limit_after_repeated_failures(client, user, password):
    from allauth.account.adapter import get_adapter
    from django.utils import translation

    with translation.override("fi"):
        limited = str(get_adapter().error_messages["too_many_login_attempts"])
    for _ in range(5):
        response = _login(client, user.email, "wrong-password-xyz")
        assert limited not in str(response.context["form"].errors)
    response = _login(client, user.email, password)
    # Even the correct password is refused while the per-address limit holds.
    assert limited in str(response.context["form"].errors)
    assert "_auth_user_id" not in client.session


def test_new_session_key_at_login(client, user, password):
    client.get(reverse("account_login"))
    client.session.save()
    before = client.session.session_key
    _login(client, user.email, password)
    after = client.session.session_key
    assert before and after and before != after


def test_inactive_user_cannot_log_in(client, user, password):
    user.is_active = False
    user.save(update_fields=["is_active"])
    _login(client, user.email, password)
    assert "_auth_user_id" not in client.session


def test_logout_is_audited(client, user, password):
    _login(client, user.email, password)
    client.post(reverse("account_logout"))
    assert "_auth_user_id" not in client.session
    assert AuditEvent.objects.filter(action="logout", target_user=user).exists()
