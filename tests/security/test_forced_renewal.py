"""Forced password renewal asks for proof (issue 12, finding 9).

With `update_password` pending, the new password is accepted without more only right after a
login (ACCOUNT_REAUTHENTICATION_TIMEOUT); an older session must give the current password,
one of the user's old service passwords, or come through the emailed verification link. A
stolen old session therefore cannot turn itself into a permanent takeover.
"""

from __future__ import annotations

import re

import passlib.hash as ph
import pytest
from allauth.account.models import EmailAddress
from django.core import mail
from django.urls import reverse

from migration.models import LegacyAccount
from organizations.models import EService
from posti_accounts.models import User

pytestmark = pytest.mark.django_db

EMAIL = "renewal@example.fi"
PASSWORD = "nykyinen-salasana-2026"
LEGACY_PASSWORD = "vanha-palvelun-salasana"
NEW_PASSWORD = "aivan-uusi-salasana-2026"
URL = "posti_accounts:action_update_password"
RECORDS = "account_authentication_methods"


def _user(*, usable=True, verify_email=False) -> User:
    user = User.objects.create_user(email=EMAIL, password=PASSWORD if usable else None)
    EmailAddress.objects.create(user=user, email=EMAIL, verified=True, primary=True)
    user.requires_update_password = True
    user.requires_verify_email = verify_email
    user.save()
    return user


def _login(client, password=PASSWORD) -> None:
    response = client.post(reverse("account_login"), {"login": EMAIL, "password": password})
    assert response.status_code == 302, response.content.decode()[:2000]


def _age_session(client, seconds=3600) -> None:
    session = client.session
    records = session[RECORDS]
    for record in records:
        record["at"] -= seconds
    session[RECORDS] = records
    session.save()


def _set(client, **extra):
    return client.post(
        reverse(URL), {"password1": NEW_PASSWORD, "password2": NEW_PASSWORD, **extra}
    )


def test_right_after_login_no_more_proof_is_asked(client):
    user = _user()
    _login(client)
    page = client.get(reverse(URL)).content.decode()
    assert 'name="current_password"' not in page
    response = _set(client)
    assert response.status_code == 302
    user.refresh_from_db()
    assert user.check_password(NEW_PASSWORD)
    assert not user.requires_update_password


def test_old_session_must_prove_the_current_password(client):
    user = _user()
    _login(client)
    _age_session(client)
    assert 'name="current_password"' in client.get(reverse(URL)).content.decode()

    response = _set(client)
    assert response.status_code == 200
    user.refresh_from_db()
    assert user.check_password(PASSWORD) and user.requires_update_password

    response = _set(client, current_password="arvattu-salasana-123")
    assert response.status_code == 200
    assert "Wrong password" in response.content.decode() or "Väärä salasana" in (
        response.content.decode()
    )
    user.refresh_from_db()
    assert user.check_password(PASSWORD)

    response = _set(client, current_password=PASSWORD)
    assert response.status_code == 302
    user.refresh_from_db()
    assert user.check_password(NEW_PASSWORD) and not user.requires_update_password


def test_force_logged_in_session_without_any_login_record_must_prove(client):
    """A session that carries no record of a login (e.g. restored or stolen) counts as old."""
    user = _user()
    client.force_login(user)
    response = _set(client)
    assert response.status_code == 200
    user.refresh_from_db()
    assert user.check_password(PASSWORD)


def test_old_session_of_a_merged_user_proves_with_an_old_service_password(client):
    user = _user(usable=False)
    service = EService.objects.get_or_create(
        code="lahetykset", defaults={"name_fi": "L", "name_sv": "L", "name_en": "L"}
    )[0]
    LegacyAccount.objects.create(
        service=service,
        username="vanha",
        email=EMAIL,
        email_valid=True,
        password_hash=ph.django_pbkdf2_sha256.using(rounds=1000).hash(LEGACY_PASSWORD),
        hash_scheme="django_pbkdf2_sha256",
        state=LegacyAccount.State.MERGED,
        user=user,
        row_digest="x",
    )
    _login(client, LEGACY_PASSWORD)
    _age_session(client)
    assert _set(client).status_code == 200
    response = _set(client, current_password=LEGACY_PASSWORD)
    assert response.status_code == 302
    user.refresh_from_db()
    assert user.check_password(NEW_PASSWORD)


def test_old_session_proves_through_the_emailed_link(client, django_capture_on_commit_callbacks):
    user = _user(verify_email=True)
    _login(client)
    _age_session(client)
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        client.post(reverse("posti_accounts:action_verify_email"))
    assert len(mail.outbox) == 1
    link = re.search(r"https?://\S+", mail.outbox[0].body).group(0)
    path = re.sub(r"^https?://[^/]+", "", link)
    assert client.post(path).status_code == 302
    response = _set(client)
    assert response.status_code == 302
    user.refresh_from_db()
    assert user.check_password(NEW_PASSWORD)
