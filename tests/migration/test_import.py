import logging
import re
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from django.core.management import call_command
from django.utils import translation
from passlib import hash as ph

from kernel.errors import ApplicationError
from migration.models import ImportRowError, ImportRun, LegacyAccount
from migration.services import legacy_accounts_import, migration_lock
from migration.services.import_parse import (
    ROW_BAD_DATE,
    ROW_BAD_QUOTING,
    ROW_DUPLICATE,
    ROW_NO_USERNAME,
    WARN_EMAIL_INVALID,
    WARN_HASH_UNRECOGNIZED,
)
from migration.services.lock import MSG_MIGRATION_RUNNING

pytestmark = pytest.mark.django_db


def _import(service, path, **kwargs):
    kwargs.setdefault("start_wrap", False)
    return legacy_accounts_import(service_code=service.code, path=path, **kwargs)


def test_csv_columns_by_header_any_order_unknown_ignored(service, write_csv):
    header = ["EMAIL", "extra", "username", "full_name", "role", "business_id", "last_login"]
    path = write_csv(
        [
            [
                " Matti.Virtanen@Example.FI ",
                "x",
                "mvirtanen",
                "Matti Virtanen",
                "admin",
                "0112038-9",
                "05.03.2024 14:30",
            ]
        ],
        header=header,
    )
    run = _import(service, path).run
    assert (run.rows_total, run.rows_created, run.rows_failed) == (1, 1, 0)
    account = LegacyAccount.objects.get(service=service, username="mvirtanen")
    assert account.email_raw == "Matti.Virtanen@Example.FI"
    assert account.email == "matti.virtanen@example.fi"
    assert account.email_valid
    assert (account.first_name, account.last_name) == ("Matti", "Virtanen")
    assert account.role == LegacyAccount.Role.ADMIN
    assert account.business_id == "0112038-9"
    assert account.last_login == datetime(2024, 3, 5, 14, 30, tzinfo=ZoneInfo("Europe/Helsinki"))
    assert account.state == LegacyAccount.State.IMPORTED


def test_semicolon_cp1252_with_encoding_option(service, write_csv):
    path = write_csv(
        [
            {
                "username": "pkoski",
                "email": "paivi@example.fi",
                "first_name": "Päivi",
                "last_name": "Köski",
                "organization_name": "Åland Öy",
            }
        ],
        delimiter=";",
        encoding="cp1252",
    )
    _import(service, path, encoding="cp1252")
    account = LegacyAccount.objects.get(username="pkoski")
    assert (account.first_name, account.last_name) == ("Päivi", "Köski")
    assert account.organization_name == "Åland Öy"


def test_utf8_bom_and_jsonl(service, write_csv, write_jsonl):
    _import(service, write_csv([{"username": "bom", "first_name": "Ämmä"}], bom=True))
    assert LegacyAccount.objects.get(username="bom").first_name == "Ämmä"
    path = write_jsonl(
        [
            {
                "username": "jl",
                "email": "JL@example.fi",
                "last_login": "2024-01-02T03:04:05Z",
                "active": "0",
            },
            ["not", "an", "object"],
        ]
    )
    run = _import(service, path).run
    account = LegacyAccount.objects.get(username="jl")
    assert account.email == "jl@example.fi"
    assert not account.is_active
    assert run.rows_failed == 1


def test_mixed_encodings_and_bad_rows_never_abort(service, tmp_path):
    good_utf8 = "ok1,ok1@example.fi,Jyrki,Mäkelä,,,,,,01.02.2023 10:00\n".encode()
    cp1252 = "ok2;x;Ö\n".replace(";", ",").encode("cp1252")  # an old Windows line
    lines = [
        b"username,email,first_name,last_name,phone,business_id,organization_name,role,"
        b"password_hash,last_login\n",
        good_utf8,
        b",nobody@example.fi,No,Username,,,,,,\n",  # line 3: no username
        b'bad,"broken"quote,x,,,,,,,\n',  # line 4: broken quoting
        b"baddate,b@example.fi,,,,,,,,31.31.2023 25:00\n",  # line 5: unreadable date
        cp1252,  # line 6: cp1252 inside a UTF-8 file
        b"ok1,dup@example.fi,,,,,,,,\n",  # line 7: duplicate username
        b"\n",  # blank lines are skipped
        b"ok3,not-an-email,,,,,,,{CRYPT}zzz,\n",  # line 9: invalid email, unknown hash
    ]
    path = tmp_path / "mixed.csv"
    path.write_bytes(b"".join(lines).replace(b"\n", b"\r\n"))
    run = _import(service, path).run
    assert set(LegacyAccount.objects.values_list("username", flat=True)) == {"ok1", "ok2", "ok3"}
    assert LegacyAccount.objects.get(username="ok2").first_name == "Ö"
    problems = {(p.line, p.reason) for p in ImportRowError.objects.filter(run=run)}
    assert {
        (3, ROW_NO_USERNAME),
        (4, ROW_BAD_QUOTING),
        (5, ROW_BAD_DATE),
        (7, ROW_DUPLICATE),
        (9, WARN_EMAIL_INVALID),
        (9, WARN_HASH_UNRECOGNIZED),
    } <= problems
    assert run.rows_failed == 4
    assert run.emails_invalid == 2 and run.hashes_unrecognized == 1
    ok3 = LegacyAccount.objects.get(username="ok3")
    assert ok3.email == "not-an-email" and not ok3.email_valid
    assert ok3.hash_scheme == "unknown" and ok3.password_hash == ""
    assert ImportRun.objects.get(pk=run.pk).status == ImportRun.Status.DONE


def test_reimport_changes_nothing_and_newer_export_updates(service, write_csv):
    rows = [
        {"username": f"u{i}", "email": f"u{i}@example.fi", "first_name": "Aa"} for i in range(5)
    ]
    first = _import(service, write_csv(rows)).run
    stamps = dict(LegacyAccount.objects.values_list("username", "updated_at"))
    second = _import(service, write_csv(rows)).run
    assert (second.rows_created, second.rows_updated, second.rows_unchanged) == (0, 0, 5)
    assert dict(LegacyAccount.objects.values_list("username", "updated_at")) == stamps
    rows[2]["first_name"] = "Bb"
    rows.append({"username": "u9", "email": "u9@example.fi"})
    third = _import(service, write_csv(rows)).run
    assert (third.rows_created, third.rows_updated, third.rows_unchanged) == (1, 1, 4)
    assert LegacyAccount.objects.get(username="u2").first_name == "Bb"
    assert LegacyAccount.objects.count() == 6
    assert first.rows_created == 5


def test_import_batches_use_bounded_queries(
    service, write_csv, settings, django_assert_max_num_queries
):
    settings.LEGACY_IMPORT_BATCH_SIZE = 50
    for size in (50, 200):
        rows = [{"username": f"q{size}-{i}", "email": f"q{i}@example.fi"} for i in range(size)]
        # per batch: 1 select + 1 upsert + 1 error insert + savepoints; plus a fixed overhead
        with django_assert_max_num_queries(12 + 6 * (size // 50)):
            _import(service, write_csv(rows))


def test_weak_hashes_wrapped_after_import_and_never_logged(
    service, write_csv, caplog, django_capture_on_commit_callbacks
):
    md5 = ph.hex_md5.hash("vanha-salasana")
    ssha = ph.ldap_salted_sha1.hash("vanha-salasana")
    bcrypt_hash = ph.bcrypt.using(rounds=4).hash("vanha-salasana")
    rows = [
        {"username": "a", "password_hash": md5},
        {"username": "b", "password_hash": ssha},
        {"username": "c", "password_hash": bcrypt_hash},
    ]
    caplog.set_level(logging.DEBUG)
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        legacy_accounts_import(service_code=service.code, path=write_csv(rows))
    assert callbacks  # the wrapping job was started after the import committed
    accounts = {a.username: a for a in LegacyAccount.objects.all()}
    for name in ("a", "b"):
        assert accounts[name].hash_wrapped
        assert accounts[name].password_hash.startswith("$argon2id$")
    assert md5 not in accounts["a"].password_hash
    assert not accounts["c"].hash_wrapped  # bcrypt is slow already: kept as is
    for secret in (md5, ssha, bcrypt_hash):
        assert secret not in caplog.text


def test_command_report_shows_problems_not_hashes(service, write_csv, capsys):
    md5 = ph.hex_md5.hash("vanha")
    path = write_csv(
        [
            {"username": "a", "password_hash": md5, "email": "bad"},
            {"username": "", "email": "x@example.fi"},
        ]
    )
    call_command(
        "import_legacy_accounts",
        str(path),
        "--service",
        service.code,
        "--no-wrap",
        "--language",
        "en",
    )
    out = capsys.readouterr().out
    assert re.search(r"Bad rows +1\n", out)
    with translation.override("en"):
        assert "line 3" in out and str(ROW_NO_USERNAME.label) in out
    assert md5 not in out


def test_second_start_is_refused_while_locked(service, write_csv):
    path = write_csv([{"username": "a"}])
    with migration_lock(), pytest.raises(ApplicationError) as excinfo:
        _import(service, path)
    assert excinfo.value.message == MSG_MIGRATION_RUNNING
    assert not LegacyAccount.objects.exists()
    _import(service, path)  # released afterwards
    assert LegacyAccount.objects.count() == 1


@pytest.mark.postgres
def test_concurrent_start_refused_on_postgres(service, write_csv, django_db_blocker):
    import psycopg
    from django.db import connection

    from migration.services.lock import ADVISORY_LOCK_KEY

    params = connection.get_connection_params()
    params.pop("cursor_factory", None)
    params.pop("context", None)
    other = psycopg.connect(
        **{k: v for k, v in params.items() if k in ("dbname", "user", "password", "host", "port")},
        autocommit=True,
    )
    try:
        other.execute("SELECT pg_advisory_lock(%s)", [ADVISORY_LOCK_KEY])
        with pytest.raises(ApplicationError) as excinfo:
            _import(service, write_csv([{"username": "a"}]))
        assert excinfo.value.code == "migration_running"
        other.execute("SELECT pg_advisory_unlock(%s)", [ADVISORY_LOCK_KEY])
    finally:
        other.close()
    _import(service, write_csv([{"username": "a"}]))
    assert LegacyAccount.objects.filter(username="a").exists()


@pytest.mark.postgres
def test_first_import_writes_rows_in_email_order(service, write_csv):
    """PostgreSQL: each streamed chunk goes into the staging table in email order (the merge
    reads one email range at a time); line numbers in the report stay those of the file."""
    rows = [
        {"username": f"u{i}", "email": f"{chr(122 - i)}@example.fi" if i != 3 else "bad@"}
        for i in range(6)
    ]
    run = _import(service, write_csv(rows)).run
    by_id = list(LegacyAccount.objects.order_by("id").values_list("email", flat=True))
    assert by_id == sorted(by_id) and len(by_id) == 6
    problem = ImportRowError.objects.get(run=run)
    assert (problem.line, problem.username) == (5, "u3")  # header is line 1


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("5.3.2024 14:30", datetime(2024, 3, 5, 14, 30, tzinfo=ZoneInfo("Europe/Helsinki"))),
        (
            "05.03.2024 14:30:15",
            datetime(2024, 3, 5, 14, 30, 15, tzinfo=ZoneInfo("Europe/Helsinki")),
        ),
        ("05.03.2024", datetime(2024, 3, 5, tzinfo=ZoneInfo("Europe/Helsinki"))),
        ("2024-01-02T03:04:05Z", datetime(2024, 1, 2, 3, 4, 5, tzinfo=ZoneInfo("UTC"))),
        ("2024-07-01 12:00", datetime(2024, 7, 1, 12, tzinfo=ZoneInfo("Europe/Helsinki"))),
        ("", None),
        ("31.02.2024", ROW_BAD_DATE),
        ("32.13.2023 99:99", ROW_BAD_DATE),
        ("1.1.2024 10", ROW_BAD_DATE),
    ],
)
def test_last_login_formats(value, expected):
    from migration.services.import_normalize import parse_datetime
    from migration.services.import_parse import RowError

    if expected == ROW_BAD_DATE:
        with pytest.raises(RowError):
            parse_datetime(value)
    else:
        assert parse_datetime(value) == expected
