"""Bad input gets a clear error and changes nothing (issue 12, proof suite; ASVS V1/V2).

Example-based checks of the forms and the legacy import command not covered elsewhere (the
invitation paste and CSV upload: tests/organizations/test_bad_input.py), and property-based
tests of the business ID validator, the email normalization and the legacy hash parsers.
"""

from __future__ import annotations

import string

import pytest
from django.core.exceptions import ValidationError
from django.core.management import CommandError, call_command
from django.urls import reverse
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from migration import hashes
from migration.models import LegacyAccount
from migration.services.import_normalize import normalize_email as legacy_normalize
from organizations.models import EService
from organizations.validators import _WEIGHTS, business_id_normalize
from posti_accounts.models import User, UserManager

BAD_TEXT = [
    "x" * 5000,
    "nul\x00byte",
    "esc\x1b[31mape",
    "rtl\u202eoverride",
    "Мatti",  # Cyrillic М: mixed script
]
BAD_EMAILS = [
    "a" * 300 + "@example.fi",
    "matti\x00@example.fi",
    "mätti@exämple.fi\x1b",
    "matti@exаmple.fi\u202e",
    "not-an-email",
    "matti@@example.fi",
]
PROPERTY = settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


# --- Forms -------------------------------------------------------------------------------------
@pytest.mark.django_db
@pytest.mark.parametrize("email", BAD_EMAILS)
def test_signup_with_bad_email_is_a_form_error(client, email):
    before = User.objects.count()
    response = client.post(
        reverse("account_signup"),
        {"email": email, "password1": "pitka-salasana-2026", "password2": "pitka-salasana-2026"},
    )
    assert response.status_code == 200
    assert "errorlist" in response.content.decode() or 'role="alert"' in response.content.decode()
    assert User.objects.count() == before


@pytest.mark.django_db
@pytest.mark.parametrize("value", BAD_TEXT)
def test_profile_edit_with_bad_text_never_500s_and_keeps_control_characters_out(
    client_logged_in, user, value
):
    url = reverse("posti_accounts:details_edit")
    response = client_logged_in.post(
        url, {"first_name": value, "last_name": "Virtanen", "phone": value}
    )
    assert response.status_code in (200, 302)
    user.refresh_from_db()
    for stored in (user.first_name, user.phone):
        assert "\x00" not in stored and "\x1b" not in stored
        assert len(stored) <= 150


@pytest.mark.django_db
@pytest.mark.parametrize(
    "content",
    [b"\x00\x01\x02\xff\xfe binary", b'username,email\n"unterminated,x@example.fi\n', b""],
)
def test_legacy_import_of_a_broken_file_is_a_clear_error_or_reported_rows(tmp_path, content):
    EService.objects.get_or_create(
        code="lahetykset", defaults={"name_fi": "L", "name_sv": "L", "name_en": "L"}
    )
    path = tmp_path / "export.csv"
    path.write_bytes(content)
    before = LegacyAccount.objects.count()
    try:
        call_command("import_legacy_accounts", str(path), "--service", "lahetykset")
    except CommandError as exc:
        assert str(exc)  # a message for the operator, not a traceback
    assert LegacyAccount.objects.count() == before


@pytest.mark.django_db
def test_legacy_import_with_an_unknown_encoding_is_a_clear_error(tmp_path):
    EService.objects.get_or_create(
        code="lahetykset", defaults={"name_fi": "L", "name_sv": "L", "name_en": "L"}
    )
    path = tmp_path / "export.csv"
    path.write_text("username,email\nmatti,matti@example.fi\n")
    with pytest.raises(CommandError):
        call_command(
            "import_legacy_accounts", str(path), "--service", "lahetykset", "--encoding", "nosuch"
        )
    assert not LegacyAccount.objects.exists()


# --- Business ID -------------------------------------------------------------------------------
def _with_check_digit(body: str) -> str | None:
    remainder = sum(int(d) * w for d, w in zip(body, _WEIGHTS, strict=True)) % 11
    if remainder == 1:
        return None
    return f"{body}-{0 if remainder == 0 else 11 - remainder}"


bodies = st.text(alphabet=string.digits, min_size=7, max_size=7)


@PROPERTY
@given(bodies)
def test_business_ids_from_the_check_digit_rule_are_accepted(body):
    valid = _with_check_digit(body)
    if valid is None:
        with pytest.raises(ValidationError):
            business_id_normalize(f"{body}-0")
        return
    assert business_id_normalize(valid) == valid
    assert business_id_normalize(valid.replace("-", "")) == valid


@PROPERTY
@given(bodies, st.integers(min_value=0, max_value=7), st.integers(min_value=1, max_value=9))
def test_any_one_digit_change_of_a_valid_business_id_is_refused(body, position, shift):
    valid = _with_check_digit(body)
    if valid is None:
        return
    digits = valid.replace("-", "")
    changed = digits[:position] + str((int(digits[position]) + shift) % 10) + digits[position + 1 :]
    with pytest.raises(ValidationError):
        business_id_normalize(f"{changed[:7]}-{changed[7]}")


@PROPERTY
@given(st.text(max_size=40))
def test_business_id_validator_raises_only_validation_error(text):
    try:
        result = business_id_normalize(text)
    except ValidationError:
        return
    assert len(result) == 9 and result[7] == "-"


# --- Email normalization -----------------------------------------------------------------------
@PROPERTY
@given(st.text(max_size=60))
def test_email_normalization_is_idempotent_and_the_import_agrees(text):
    once = UserManager.normalize_email(text)
    assert UserManager.normalize_email(once) == once
    cleaned = text.strip()
    if "<" in cleaned or ">" in cleaned or cleaned.lower().startswith("mailto:"):
        return
    legacy, _valid = legacy_normalize(text)
    assert legacy == once[:254]


# --- Legacy hash parsers ---------------------------------------------------------------------
SCHEMES = set(hashes._SCHEMES) | {hashes.UNKNOWN, ""}


@PROPERTY
@given(st.one_of(st.text(max_size=120), st.sampled_from(["$2b$", "{SSHA}", "pbkdf2_sha256$"])))
def test_recognize_never_raises(text):
    assert hashes.recognize(text).scheme in SCHEMES


@PROPERTY
@given(
    st.text(max_size=40),
    st.sampled_from(sorted(hashes._SCHEMES)),
    st.text(max_size=80),
    st.text(max_size=20),
    st.booleans(),
)
def test_verify_never_raises_and_refuses_garbage(password, scheme, stored, salt, wrapped):
    assert hashes.verify(password, scheme=scheme, stored=stored, salt=salt, wrapped=wrapped) in (
        False,
    )
