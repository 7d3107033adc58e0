"""Bulk invite as a main user meets it: Excel's cp1252 semicolon CSV, roles by their names,
`admin` refused with a pointer to main_user/member, and the result says what each row got."""

from __future__ import annotations

import re

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from organizations.invitation_parsing import csv_bytes_decode, invite_rows_parse
from organizations.models import Invitation


@pytest.fixture
def main_client(client, org):
    client.force_login(org.main_user)
    return client


def _rows(response) -> dict[str, str]:
    html = response.content.decode()
    rows = re.findall(r'<tr class="invite-[a-z_]+">(.*?)</tr>', html, re.S)
    out = {}
    for row in rows:
        cells = [
            re.sub(r"<[^>]+>|\s+", " ", c).strip()
            for c in re.findall(r"<td[^>]*>(.*?)</td>", row, re.S)
        ]
        out[cells[0]] = " | ".join(cells[1:])
    return out


def test_excel_cp1252_semicolon_csv_is_read(main_client, org, eservices):
    raw = (
        "Sähköposti;Rooli;Palvelut\r\n"
        "maija@example.fi;pääkäyttäjä;laskutus\r\n"
        "ohman@example.fi;jäsen;\r\n"
    )
    upload = SimpleUploadedFile("Kutsut.csv", raw.encode("cp1252"), content_type="text/csv")
    response = main_client.post(
        reverse("organizations:invite", args=[org.pk]), {"csv_file": upload, "role": "member"}
    )
    assert response.status_code == 200
    assert [r.status for r in response.context["report"]] == ["invited", "invited"]
    assert Invitation.objects.get(email="maija@example.fi").role == "main_user"
    assert Invitation.objects.filter(email="ohman@example.fi").exists()


def test_utf8_bom_and_cp1252_decode():
    assert csv_bytes_decode("\ufeffemail;role\n".encode()) == "email;role\n"
    assert csv_bytes_decode("pääkäyttäjä".encode("cp1252")) == "pääkäyttäjä"
    assert csv_bytes_decode("a@x.fi".encode("utf-16")) is None


def test_admin_role_is_refused_with_a_pointer(main_client, org):
    response = main_client.post(
        reverse("organizations:invite", args=[org.pk]),
        {"emails": "boss@example.fi,admin\nok@example.fi,main_user", "role": "member"},
    )
    report = {r.email: r for r in response.context["report"]}
    assert report["boss@example.fi"].status == "invalid"
    assert "main_user" in report["boss@example.fi"].message
    assert "admin" in report["boss@example.fi"].message
    assert report["ok@example.fi"].status == "invited"
    assert not Invitation.objects.filter(email="boss@example.fi").exists()


def test_result_shows_role_and_services_per_row(main_client, org, eservices):
    org.main_user.preferred_language = "en"
    org.main_user.save(update_fields=["preferred_language"])
    response = main_client.post(
        reverse("organizations:invite", args=[org.pk]),
        {
            "emails": "a@example.fi,main_user,laskutus;seuranta\nb@example.fi",
            "role": "member",
            "services": ["lahetykset"],
        },
    )
    rows = _rows(response)
    assert rows["a@example.fi"] == "Main user | laskutus en, seuranta en | Invited"
    assert rows["b@example.fi"] == "Member | lahetykset en | Invited"


def test_invite_page_lists_the_valid_service_codes(main_client, org, eservices):
    html = main_client.get(reverse("organizations:invite", args=[org.pk])).content.decode()
    for code in ("laskutus", "lahetykset", "seuranta"):
        assert f"<code>{code}</code>" in html
    assert "<code>main_user</code>" in html and "<code>member</code>" in html


def test_parser_keeps_roles_as_written():
    rows = invite_rows_parse("email;role;services\na@x.fi;Pääkäyttäjä;laskutus seuranta\n")
    assert [(r.email, r.role, tuple(r.services)) for r in rows] == [
        ("a@x.fi", "Pääkäyttäjä", ("laskutus", "seuranta"))
    ]
