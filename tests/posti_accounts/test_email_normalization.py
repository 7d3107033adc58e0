"""One email normalization (issue 13): the legacy import, logins and staff forms agree."""

from __future__ import annotations

import unicodedata

import pytest
from allauth.account.models import EmailAddress
from django.urls import reverse

from migration.services.import_normalize import normalize_email as legacy_normalize
from posti_accounts.models import User, UserManager

NFD = unicodedata.normalize("NFD", "Matti.Ohman@Äänekosken-Yritys.fi")
CASES = [
    "  Matti@Example.FI ",
    NFD,
    "T\u0308@example.fi",
    "liisa@example.fi",
    "ÅSA@EXEMPEL.SE\t",
    "<a@b.fi>",
]


@pytest.mark.parametrize("raw", CASES)
def test_import_and_accounts_normalize_alike(raw):
    ours = UserManager.normalize_email(raw.strip().strip("<>"))
    assert legacy_normalize(raw)[0] == ours
    assert UserManager.normalize_email(ours) == ours  # idempotent
    assert ours == unicodedata.normalize("NFC", ours)


@pytest.mark.django_db
def test_login_with_a_decomposed_address_finds_the_account(client):
    email = UserManager.normalize_email(NFD)
    user = User.objects.create_user(email=email, password="pitka-salasana-2026")
    EmailAddress.objects.create(user=user, email=email, verified=True, primary=True)
    response = client.post(
        reverse("account_login"), {"login": NFD, "password": "pitka-salasana-2026"}
    )
    assert response.status_code == 302
    assert response.wsgi_request.user.is_authenticated
