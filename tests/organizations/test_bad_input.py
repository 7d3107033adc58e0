"""Bad input never gives a 500 (PostgreSQL refuses NUL characters in text; huge page numbers,
unknown filters, malformed and oversized CSV uploads)."""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from organizations.models import Invitation


@pytest.fixture
def main_client(client, org):
    client.force_login(org.main_user)
    return client


@pytest.mark.parametrize(
    "query",
    [
        {"q": "ab\x00c"},
        {"q": "\x00"},
        {"role": "\x00"},
        {"status": "x\x00"},
        {"service": "laskutus\x00"},
        {"service": "no-such-service"},
        {"page": "99999999999999999999999999"},
        {"page": "-1"},
        {"page": "\x00"},
        {"q": "a" * 5000},
    ],
)
def test_members_page_and_export_bad_filters(main_client, org, add_member, eservices, query):
    add_member(org, first_name="Aino", services_=["laskutus"])
    for name in ("detail", "export"):
        response = main_client.get(reverse(f"organizations:{name}", args=[org.pk]), query)
        assert response.status_code == 200, (name, query)
        if name == "export":
            body = b"".join(response.streaming_content).decode()
            assert org.main_user.email in body or "q" in query


def test_invalid_filter_is_dropped_but_the_others_still_apply(main_client, org, add_member):
    aino = add_member(org, first_name="Aino", last_name="Virtanen")
    add_member(org, first_name="Bertta", last_name="Nieminen")
    url = reverse("organizations:detail", args=[org.pk])
    for bad in ({"role": "bogus"}, {"service": "nope"}, {"status": "\x00"}):
        response = main_client.get(url, {"q": "virtanen", **bad})
        assert [m.pk for m in response.context["page"]] == [aino.pk], bad
        assert response.context["form"].errors
    response = main_client.get(url, {"q": "aino\x00", "role": "member"})
    assert response.status_code == 200
    assert "q" in response.context["form"].errors


def test_members_selector_drops_nul_characters(org, add_member):
    from organizations.selectors import organization_members_list

    aino = add_member(org, first_name="Aino", last_name="Virtanen")
    found = organization_members_list(organization=org, search="virta\x00nen", role="mem\x00ber")
    assert list(found) == [aino]
    assert list(organization_members_list(organization=org, service="\x00")) != []


@pytest.mark.parametrize(
    "query",
    [
        {"action": "\x00"},
        {"date_from": "\x00"},
        {"date_from": "99999-01-01"},
        {"date_to": "9999-12-31"},
        {"date_from": "0001-01-01"},
        {"date_to": "0001-01-01"},
        {"date_from": "9999-12-31"},
        {"page": "1e9"},
    ],
)
def test_audit_page_bad_filters(main_client, org, query):
    response = main_client.get(reverse("organizations:audit", args=[org.pk]), query)
    assert response.status_code == 200


@pytest.mark.parametrize(
    "content",
    [
        b"email,role,services\nnul\x00@example.fi,member,\n",
        b"email,role,services\nok@example.fi,member\x00,\n",
        b"email,role,services\nok@example.fi,member,laskutus\x00\n",
        b'email,role\n"unterminated@example.fi,member\n',
        b"email\n" + b"x" * 200_000 + b"@example.fi\n",
        b"\x00\x00\x00",
        b"",
        # Windows-1252 is read (Excel's CSV); the non-ASCII local part is then refused.
        "email,role\nä@example.fi,pääkäyttäjä\n".encode("latin-1"),
    ],
)
def test_invite_csv_upload_bad_content(main_client, org, eservices, content):
    url = reverse("organizations:invite", args=[org.pk])
    upload = SimpleUploadedFile("bad.csv", content, content_type="text/csv")
    response = main_client.post(url, {"csv_file": upload, "role": "member"})
    assert response.status_code == 200
    form = response.context["form"]
    report = response.context["report"] or []
    assert form.errors or [r.status for r in report] == ["invalid"], (form.errors, report)
    assert not Invitation.objects.exists()


def test_invite_paste_with_nul(main_client, org):
    url = reverse("organizations:invite", args=[org.pk])
    response = main_client.post(url, {"emails": "a\x00@example.fi", "role": "member"})
    assert response.status_code == 200
    assert not Invitation.objects.exists()


@pytest.mark.parametrize(
    "content",
    [
        b"email,role\n" + b"x" * 200_000 + b"@example.fi,member\n",
        b'email,role\na@example.fi,"' + b"y" * 200_000 + b"\n",
        b"email,role,services\n" + b"".join(b"u%d@example.fi,member,\n" % i for i in range(1001)),
    ],
)
def test_invite_csv_upload_more_bad_content(main_client, org, eservices, content):
    url = reverse("organizations:invite", args=[org.pk])
    upload = SimpleUploadedFile("bad.csv", content, content_type="text/csv")
    response = main_client.post(url, {"csv_file": upload, "role": "member"})
    assert response.status_code == 200
    assert response.context["form"].errors
    assert not Invitation.objects.exists()


def test_service_reports_nul_rows_invalid_without_touching_the_database(org, eservices):
    from organizations import services
    from organizations.services import InviteRow

    report = services.invitations_bulk_create(
        organization=org,
        rows=[
            InviteRow("nul\x00@example.fi"),
            InviteRow("ok@example.fi", "member", ("laskutus\x00",)),
            InviteRow("fine@example.fi", "member", ("laskutus",)),
        ],
        actor=org.main_user,
    )
    assert [(r.status, r.code) for r in report] == [
        ("invalid", "invalid_email"),
        ("invalid", "unknown_service"),
        ("invited", ""),
    ]
    assert list(Invitation.objects.values_list("email", flat=True)) == ["fine@example.fi"]


def test_csv_parse_refuses_oversized_field():
    from kernel.errors import ApplicationError
    from organizations import services

    with pytest.raises(ApplicationError) as exc:
        services.invite_rows_parse("email,role\n" + "x" * 200_000 + "@example.fi,member\n")
    assert exc.value.code == "csv_unreadable"
