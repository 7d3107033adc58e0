"""The operator's management commands: clear errors, messages in the operator's language."""

from __future__ import annotations

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from migration.models import LegacyAccount
from organizations.models import EService
from posti_accounts.models import AuditEvent

pytestmark = pytest.mark.django_db


def _import(*args: str) -> None:
    call_command("import_legacy_accounts", *args, "--no-wrap")


def test_unknown_service_lists_the_codes_and_how_to_add_one(service, service2, write_csv):
    path = write_csv([{"username": "a"}])
    with pytest.raises(CommandError) as excinfo:
        _import(str(path), "--service", "lahetys", "--language", "en")
    message = str(excinfo.value)
    assert "lahetys" in message
    assert "laskutus, lahetykset" in message or "lahetykset, laskutus" in message
    assert "--create-service" in message and "admin" in message
    assert not LegacyAccount.objects.exists()


def test_unknown_service_without_any_service_says_so(db, write_csv):
    path = write_csv([{"username": "a"}])
    with pytest.raises(CommandError) as excinfo:
        _import(str(path), "--service", "lahetykset", "--language", "en")
    assert "There are no e-services yet" in str(excinfo.value)


@pytest.mark.parametrize(
    ("language", "expected"),
    [
        ("fi", "Tuntematon asiointipalvelun koodi"),
        ("sv", "Okänd kod för e-tjänst"),
        ("en", "Unknown e-service code"),
    ],
)
def test_messages_follow_the_language_option(service, write_csv, language, expected):
    path = write_csv([{"username": "a"}])
    with pytest.raises(CommandError) as excinfo:
        _import(str(path), "--service", "nope", "--language", language)
    assert expected in str(excinfo.value)


def test_language_defaults_to_the_language_setting(service, write_csv, settings, capsys):
    settings.LANGUAGE_CODE = "sv"
    path = write_csv([{"username": "a"}, {"username": ""}])
    _import(str(path), "--service", service.code)
    out = capsys.readouterr().out
    assert "Importrapport" in out and "Felaktiga rader" in out


def test_create_service_adds_the_eservice_and_imports(db, write_csv, capsys):
    path = write_csv([{"username": "a", "email": "a@example.fi"}])
    _import(
        str(path), "--service", "postinkanto", "--create-service", "Postinkanto", "--language", "en"
    )
    service = EService.objects.get(code="postinkanto")
    assert (service.name_fi, service.name_sv, service.name_en) == ("Postinkanto",) * 3
    assert LegacyAccount.objects.get().service == service
    assert AuditEvent.objects.filter(action="eservice.created").count() == 1
    assert "E-service postinkanto (Postinkanto) created" in capsys.readouterr().out
    # A second run with the same option uses the existing service.
    _import(
        str(path), "--service", "postinkanto", "--create-service", "Postinkanto", "--language", "en"
    )
    assert EService.objects.filter(code="postinkanto").count() == 1


@pytest.mark.parametrize("code", ["Bad Code!", "", "x" * 51])
def test_create_service_refuses_a_bad_code(db, write_csv, code):
    path = write_csv([{"username": "a"}])
    with pytest.raises(CommandError) as excinfo:
        _import(str(path), "--service", code, "--create-service", "Name", "--language", "en")
    assert "code" in str(excinfo.value)
    assert not EService.objects.exists() and not LegacyAccount.objects.exists()


def test_create_service_refuses_an_unreadable_file_and_creates_nothing(db, tmp_path):
    with pytest.raises(CommandError):
        _import(str(tmp_path / "missing.csv"), "--service", "uusi", "--create-service", "Uusi")
    assert not EService.objects.exists()


def test_retire_and_wrap_commands_speak_the_language(service, capsys):
    call_command("retire_legacy_credentials", "--service", service.code, "--language", "fi")
    assert "Käytöstä poistettiin 0 vanhaa tunnusta" in capsys.readouterr().out
    with pytest.raises(CommandError) as excinfo:
        call_command("retire_legacy_credentials", "--service", "nope", "--language", "sv")
    assert "Okänd kod för e-tjänst ”nope”" in str(excinfo.value)
    assert "Befintliga koder: lahetykset." in str(excinfo.value)
    call_command("wrap_legacy_hashes", "--language", "sv")
    assert "0" in capsys.readouterr().out


def test_help_speaks_the_language_given_on_the_command_line(capsys):
    from django.core.management import ManagementUtility

    with pytest.raises(SystemExit):
        ManagementUtility(
            ["manage.py", "import_legacy_accounts", "--help", "--language", "sv"]
        ).execute()
    assert "koden för e-tjänsten som filen kommer från" in capsys.readouterr().out
    with pytest.raises(SystemExit):
        ManagementUtility(["manage.py", "import_legacy_accounts", "--help"]).execute()
    assert "asiointipalvelun koodi, josta tiedosto on viety" in capsys.readouterr().out
