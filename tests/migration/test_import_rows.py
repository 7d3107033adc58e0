"""The fast row path of the import: its shortcuts agree with the exact rules, and values
with COPY's special characters (backslash, tab, NUL) survive or are reported."""

import base64
import hashlib
import random
from datetime import datetime

import pytest
from passlib import hash as ph

from migration import hashes
from migration.models import ImportRowError, ImportRun, LegacyAccount
from migration.services import import_stage, legacy_accounts_import
from migration.services.import_normalize import (
    HELSINKI,
    NULL,
    datetime_text,
    email_fast,
    hash_fast,
    normalize_email,
    parse_datetime,
)
from migration.services.import_parse import RowError


def _hash_corpus() -> list[str]:
    rnd = random.Random(7)
    bcrypt_hash = ph.bcrypt.using(rounds=4, salt="a" * 21 + "e").hash("salasana")
    values = [
        hashlib.md5(b"x").hexdigest().upper(),  # noqa: S324
        hashlib.sha1(b"x").hexdigest(),  # noqa: S324
        hashlib.md5(b"x").hexdigest()[:31],  # noqa: S324
        ph.ldap_salted_sha1.using(salt=b"abcd").hash("x"),
        ph.ldap_salted_md5.using(salt=b"abcd").hash("x"),
        ph.ldap_sha1.hash("x"),
        ph.ldap_md5.hash("x"),
        "{ssha}" + ph.ldap_salted_sha1.using(salt=b"efgh").hash("x")[6:],
        "{SSHA}" + base64.b64encode(b"1" * 20 + b"abc").decode(),  # salt too short
        "{SSHA}" + base64.b64encode(b"1" * 20 + b"a" * 17).decode(),  # salt too long
        "{SHA}" + base64.b64encode(b"1" * 19).decode(),
        "{SHA}not base64!",
        "{MD5}" + base64.b64encode(b"1" * 16).decode().rstrip("="),
        "{CRYPT}zzz",
        bcrypt_hash,
        bcrypt_hash[:28] + "P" + bcrypt_hash[29:],  # non-canonical salt
        bcrypt_hash.replace("$04$", "$03$"),
        bcrypt_hash[:-1],
        ph.sha512_crypt.using(rounds=1000, salt="abcdefgh").hash("x"),
        ph.django_pbkdf2_sha256.using(rounds=1000, salt="abcdef").hash("x"),
        ph.django_salted_md5.using(salt="abcdef").hash("x"),
        "plaintext-not-a-hash",
        "$1$abc$def",
    ]
    for _ in range(200):
        raw = rnd.randbytes(rnd.choice([16, 20, 24, 30]))
        prefix = rnd.choice(["{SSHA}", "{SMD5}", "{SHA}", "{MD5}"])
        values.append(prefix + base64.b64encode(raw).decode())
    return values


@pytest.mark.parametrize("value", _hash_corpus(), ids=lambda v: v[:12])
def test_hash_fast_agrees_with_recognize(value):
    exact = hashes.recognize(value)
    assert hash_fast(value.strip()) == (exact.hash, exact.scheme)


@pytest.mark.parametrize(
    "value",
    [
        "Matti.Virtanen@Example.FI",
        "matti@posti.fi",
        "info@yritys.fi",
        "a.b-c+d@sub.example.co.uk",
        "x@localhost",
        "x@example.c",
        "x@-example.fi",
        "x@example-.fi",
        "x@example.fi-",
        "x..y@example.fi",
        ".x@example.fi",
        "matti@kärkkäinen.fi",
        "MAILTO:matti@example.fi",
        "<matti@example.fi>",
        "not-an-email",
        "a@b@c.fi",
        "x@[127.0.0.1]",
        ("a" * 250) + "@example.fi",
    ],
)
def test_email_fast_agrees_with_validator(value):
    assert email_fast(value) == normalize_email(value)


@pytest.mark.parametrize(
    "value",
    [
        "05.03.2024 14:30",
        "5.3.2024 14:30",
        "05.03.2024 14:30:15",
        "05.03.2024",
        "2024-01-02T03:04:05Z",
        "2024-01-02T03:04:05+03:00",
        "2024-07-01 12:00",
        "2023-07-07T08:30:00",
        "2024-07-01T12:00:00.250000",
        "29.02.2024 10:00",
    ],
)
def test_datetime_text_means_what_parse_datetime_means(value):
    text = datetime_text(value)
    parsed = datetime.fromisoformat(text)
    if parsed.tzinfo is None:  # naive text is read in Helsinki time by the import
        parsed = parsed.replace(tzinfo=HELSINKI)
    assert parsed == parse_datetime(value)


@pytest.mark.parametrize("value", ["31.02.2024 10:00", "32.13.2023 99:99", "2024-02-30T10:00"])
def test_datetime_text_refuses_what_parse_datetime_refuses(value):
    with pytest.raises(RowError):
        parse_datetime(value)
    with pytest.raises(RowError):
        datetime_text(value)
    assert datetime_text("") == NULL


@pytest.mark.django_db
def test_copy_special_characters_survive(service, write_csv):
    long_org = "Oy \\ Ab " * 30  # backslashes around the 200-character cut
    path = write_csv(
        [
            {
                "username": "DOMAIN\\matti",
                "email": "matti\\x@example.fi",
                "first_name": "Mat\tti",
                "last_name": "  Vir   tanen ",
                "organization_name": long_org,
            },
            {"username": "ok", "first_name": "\\N"},
        ]
    )
    run = legacy_accounts_import(service_code=service.code, path=path, start_wrap=False).run
    assert run.rows_created == 2
    account = LegacyAccount.objects.get(username="DOMAIN\\matti")
    assert account.email_raw == "matti\\x@example.fi" and not account.email_valid
    assert (account.first_name, account.last_name) == ("Mat ti", "Vir tanen")
    assert account.organization_name == " ".join(long_org.split())[:200]
    assert LegacyAccount.objects.get(username="ok").first_name == "\\N"
    problems = list(ImportRowError.objects.filter(run=run).values_list("username", "reason"))
    assert problems == [("DOMAIN\\matti", ImportRowError.Reason.EMAIL_INVALID)]


@pytest.mark.django_db
def test_jsonl_values_of_any_type_and_nul_rows(service, tmp_path):
    path = tmp_path / "export.jsonl"
    path.write_text(
        '{"USERNAME": "a", "Email": "A@Example.fi", "active": false, "phone": 358401234567}\n'
        '{"username": "b", "active": true, "first_name": null}\n'
        '{"username": "c", "first_name": "x\\u0000y"}\n'
        '{"username": "d", "last_name": "tab\\there  and\\nthere"}\n',
        encoding="utf-8",
    )
    run = legacy_accounts_import(service_code=service.code, path=path, start_wrap=False).run
    accounts = {a.username: a for a in LegacyAccount.objects.all()}
    assert set(accounts) == {"a", "b", "d"}
    assert accounts["a"].email == "a@example.fi" and not accounts["a"].is_active
    assert accounts["a"].phone == "358401234567"
    assert accounts["b"].is_active and accounts["b"].first_name == ""
    assert accounts["d"].last_name == "tab here and there"
    bad = ImportRowError.objects.get(run=run)
    assert (bad.line, bad.reason) == (3, ImportRowError.Reason.BAD_ENCODING)


@pytest.mark.django_db
def test_csv_nul_byte_line_is_reported(service, tmp_path):
    path = tmp_path / "export.csv"
    path.write_bytes(b"username,first_name\nok,Aa\nbad\x00,Bb\n")
    run = legacy_accounts_import(service_code=service.code, path=path, start_wrap=False).run
    assert list(LegacyAccount.objects.values_list("username", flat=True)) == ["ok"]
    assert ImportRowError.objects.get(run=run).reason == ImportRowError.Reason.BAD_ENCODING


@pytest.mark.django_db(transaction=True)
def test_a_failing_import_leaves_nothing_behind(service, write_csv, monkeypatch):
    rows = [{"username": f"u{i}", "email": f"u{i}@example.fi"} for i in range(50)]
    original = import_stage.RowNormalizer.line
    calls = {"n": 0}

    def failing(self, fields):
        calls["n"] += 1
        if calls["n"] == 40:
            raise RuntimeError("disk full")
        return original(self, fields)

    monkeypatch.setattr(import_stage.RowNormalizer, "line", failing)
    with pytest.raises(RuntimeError):
        legacy_accounts_import(service_code=service.code, path=write_csv(rows), start_wrap=False)
    assert not LegacyAccount.objects.exists()
    assert not ImportRowError.objects.exists()
    assert ImportRun.objects.get().status == ImportRun.Status.FAILED
    monkeypatch.setattr(import_stage.RowNormalizer, "line", original)
    legacy_accounts_import(service_code=service.code, path=write_csv(rows), start_wrap=False)
    assert LegacyAccount.objects.count() == 50
