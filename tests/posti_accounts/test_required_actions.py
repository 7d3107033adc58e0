"""Required actions: redirects one after another, exemptions, completion."""

from __future__ import annotations

import pytest
from django.core import mail
from django.urls import reverse

from posti_accounts.models import AuditEvent, RequiredAction
from posti_accounts.services import user_required_action_set
from tests.posti_accounts._auth_helpers import committing_client, link_in

pytestmark = pytest.mark.django_db


@pytest.fixture
def client(django_capture_on_commit_callbacks):
    return committing_client(django_capture_on_commit_callbacks)


NEW_PASSWORD = "a-brand-new-passphrase-2026"


def _with_actions(user, *actions):
    for action in actions:
        user_required_action_set(user=user, action=action)
    return user


def test_no_actions_no_redirect(client, user):
    client.force_login(user)
    assert client.get("/profile/sessions/").status_code == 200


def test_actions_in_order_then_free(client, user, password):
    _with_actions(
        user,
        RequiredAction.CHECK_DETAILS,
        RequiredAction.UPDATE_PASSWORD,
        RequiredAction.VERIFY_EMAIL,
    )
    client.force_login(user)
    response = client.get("/organizations/")
    assert response["Location"] == reverse("posti_accounts:action_verify_email")

    response = client.post(reverse("posti_accounts:action_verify_email"))
    assert mail.outbox[-1].to == [user.email]
    response = client.get(link_in(mail.outbox[-1]))
    assert response.status_code == 200  # a button, so link scanners don't confirm
    response = client.post(link_in(mail.outbox[-1]))
    assert response["Location"] == reverse("posti_accounts:action_update_password")

    assert client.get("/profile/").status_code == 302
    response = client.post(
        reverse("posti_accounts:action_update_password"),
        {"password1": NEW_PASSWORD, "password2": NEW_PASSWORD},
    )
    assert response["Location"] == reverse("posti_accounts:action_check_details")
    user.refresh_from_db()
    assert user.check_password(NEW_PASSWORD)
    # The browser finishing its actions stays logged in.
    assert client.session["_auth_user_id"] == str(user.pk)

    # While checking details, editing them (/profile/) is allowed; other pages are not.
    assert client.get("/organizations/")["Location"] == reverse(
        "posti_accounts:action_check_details"
    )
    page = client.get(reverse("posti_accounts:action_check_details"))
    assert user.email in page.content.decode()
    response = client.post(reverse("posti_accounts:action_check_details"))
    assert response["Location"] == "/profile/"
    user.refresh_from_db()
    assert user.required_actions == []
    assert user.details_confirmed_at is not None
    completed = set(
        AuditEvent.objects.filter(action="required_action.completed").values_list(
            "details__action", flat=True
        )
    )
    assert completed == {"verify_email", "update_password", "check_details"}
    assert client.get(reverse("posti_accounts:sessions")).status_code == 200


@pytest.mark.parametrize(
    "path",
    [
        "/static/css/site.css",
        "/o/token/",
        "/o/userinfo/",
        "/o/.well-known/openid-configuration",
        "/o/.well-known/jwks.json",
        "/o/logout/",
        "/api/v1/",
        "/accounts/confirm-email/abc/",
        "/accounts/password/reset/key/1-abc/",
    ],
)
def test_exempt_paths_are_not_redirected(client, user, path):
    _with_actions(user, RequiredAction.UPDATE_PASSWORD)
    client.force_login(user)
    response = client.get(path)
    location = response.get("Location", "")
    assert location != reverse("posti_accounts:action_update_password")


def test_logout_and_language_switch_work_with_pending_actions(client, user):
    _with_actions(user, RequiredAction.UPDATE_PASSWORD)
    client.force_login(user)
    response = client.post("/i18n/setlang/", {"language": "sv", "next": "/"})
    assert response["Location"] == "/"
    response = client.post(reverse("account_logout"))
    assert "_auth_user_id" not in client.session


def test_verify_link_with_bad_token_changes_nothing(client, user):
    _with_actions(user, RequiredAction.VERIFY_EMAIL)
    client.force_login(user)
    client.post(reverse("posti_accounts:action_verify_email_confirm", args=["forged"]))
    user.refresh_from_db()
    assert user.requires_verify_email


def test_update_password_form_validates(client, user, password):
    _with_actions(user, RequiredAction.UPDATE_PASSWORD)
    client.force_login(user)
    response = client.post(
        reverse("posti_accounts:action_update_password"),
        {"password1": "short", "password2": "short"},
    )
    assert response.status_code == 200
    assert response.context["form"].errors["password1"]
    user.refresh_from_db()
    assert user.requires_update_password and user.check_password(password)


def test_changing_email_allowed_while_verifying_but_not_other_pages(client, user):
    _with_actions(user, RequiredAction.VERIFY_EMAIL)
    client.force_login(user)
    assert client.get(reverse("account_email")).status_code == 200
    assert client.get("/profile/")["Location"] == reverse("posti_accounts:action_verify_email")


def test_verifying_a_new_address_completes_the_action(client, user, password):
    _with_actions(user, RequiredAction.VERIFY_EMAIL)
    client.post(reverse("account_login"), {"login": user.email, "password": password})
    client.post(reverse("account_reauthenticate"), {"password": password})
    client.post(reverse("account_email"), {"action_add": "", "email": "oikea@example.fi"})
    client.post(link_in(mail.outbox[-1]))
    user.refresh_from_db()
    assert user.email == "oikea@example.fi"
    assert not user.requires_verify_email
