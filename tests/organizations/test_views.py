from __future__ import annotations

import csv
import io

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from organizations import services
from organizations.models import Invitation, Membership
from organizations.services import InviteRow
from organizations.views import csv_safe
from posti_accounts.models import AuditEvent, User
from tests.factories import UserFactory


def _bulk_members(org, n, eservices):
    """n members straight into the tables (the services are tested elsewhere)."""
    start = User.objects.count()
    users = User.objects.bulk_create(
        [
            User(email=f"bulk{start + i}@example.fi", first_name="Bulk", last_name=f"{i:05d}")
            for i in range(n)
        ]
    )
    memberships = Membership.objects.bulk_create(
        [Membership(organization=org, user=u) for u in users]
    )
    through = Membership.services.through
    through.objects.bulk_create(
        [through(membership_id=m.pk, eservice_id=eservices[0].pk) for m in memberships]
    )


@pytest.fixture
def main_client(client, org):
    client.force_login(org.main_user)
    return client


def test_members_page_query_count_same_for_10_and_2000(
    main_client, org, eservices, django_assert_num_queries
):
    url = reverse("organizations:detail", args=[org.pk])
    _bulk_members(org, 9, eservices)
    main_client.get(url)  # warm up session etc.
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as small:
        response = main_client.get(url)
    assert response.status_code == 200
    assert len(response.context["page"].object_list) == 10
    _bulk_members(org, 1991, eservices)
    with django_assert_num_queries(len(small.captured_queries)):
        response = main_client.get(url + "?page=3")
    assert len(response.context["page"].object_list) == 50
    assert response.context["page"].paginator.count == 2001
    print(f"members page queries: {len(small.captured_queries)}")


def test_members_page_filters(main_client, org, add_member, eservices):
    a = add_member(org, first_name="Aino", last_name="Virtanen", services_=["laskutus"])
    b = add_member(org, first_name="Bertil", last_name="Nyström", email="bertil@example.se")
    services.membership_remove(membership=b, actor=org.main_user)
    url = reverse("organizations:detail", args=[org.pk])

    def emails(query):
        response = main_client.get(url, query)
        return {m.user.email for m in response.context["page"]}

    assert emails({"q": "virtanen"}) == {a.user.email}
    assert emails({"q": "AINO"}) == {a.user.email}
    assert emails({"role": "main_user"}) == {org.main_user.email}
    assert emails({"service": "laskutus"}) == {a.user.email}
    assert emails({"status": "removed"}) == {"bertil@example.se"}
    assert emails({}) == {org.main_user.email, a.user.email}
    assert main_client.get(url, {"role": "bogus", "page": "x"}).status_code == 200


def test_plain_member_sees_only_own_membership_and_can_leave(client, org, add_member):
    a = add_member(org)
    add_member(org, email="other@example.fi")
    client.force_login(a.user)
    response = client.get(reverse("organizations:detail", args=[org.pk]))
    assert response.status_code == 200
    assert b"other@example.fi" not in response.content
    assert "organizations/own_membership.html" in [t.name for t in response.templates]
    for name in ("invite", "invitations", "audit", "export"):
        assert client.get(reverse(f"organizations:{name}", args=[org.pk])).status_code == 404
    response = client.post(reverse("organizations:leave", args=[org.pk]))
    assert response.status_code == 302
    a.refresh_from_db()
    assert a.status == Membership.Status.REMOVED


def test_last_main_user_leave_shows_message(main_client, org):
    response = main_client.post(reverse("organizations:leave", args=[org.pk]), follow=True)
    assert str(services.MSG_LAST_MAIN_USER) in response.content.decode()
    assert Membership.objects.get(organization=org, user=org.main_user).is_main_user


def test_member_actions(main_client, org, add_member, eservices):
    m = add_member(org)
    base = [org.pk, m.pk]
    assert main_client.get(reverse("organizations:member", args=base)).status_code == 200
    main_client.post(reverse("organizations:member_role", args=base), {"role": "main_user"})
    main_client.post(
        reverse("organizations:member_services", args=base), {"services": ["seuranta"]}
    )
    m.refresh_from_db()
    assert m.role == "main_user"
    assert list(m.services.values_list("code", flat=True)) == ["seuranta"]
    bad = main_client.post(reverse("organizations:member_role", args=base), {"role": "god"})
    assert bad.status_code == 400
    main_client.post(reverse("organizations:member_role", args=base), {"role": "member"})
    main_client.post(reverse("organizations:member_handover", args=base), {"step_down": "on"})
    m.refresh_from_db()
    assert m.is_main_user
    assert Membership.objects.get(user=org.main_user, organization=org).role == "member"


def test_role_change_takes_effect_on_next_request(client, org, add_member):
    m = add_member(org)
    client.force_login(m.user)
    url = reverse("organizations:invite", args=[org.pk])
    assert client.get(url).status_code == 404
    services.membership_role_change(membership=m, role="main_user", actor=org.main_user)
    assert client.get(url).status_code == 200
    services.membership_role_change(membership=m, role="member", actor=org.main_user)
    assert client.get(url).status_code == 404


def test_remove_member_view(main_client, org, add_member):
    m = add_member(org)
    response = main_client.post(reverse("organizations:member_remove", args=[org.pk, m.pk]))
    assert response.status_code == 302
    m.refresh_from_db()
    assert m.status == "removed"
    own = Membership.objects.get(user=org.main_user, organization=org)
    response = main_client.post(
        reverse("organizations:member_remove", args=[org.pk, own.pk]), follow=True
    )
    assert str(services.MSG_LAST_MAIN_USER) in response.content.decode()


def test_invite_form_paste_and_csv(main_client, org, add_member, eservices):
    member = add_member(org)
    url = reverse("organizations:invite", args=[org.pk])
    response = main_client.post(
        url,
        {
            "emails": f"one@example.fi\n{member.user.email}\nnot-an-email",
            "role": "member",
            "services": ["laskutus"],
        },
    )
    assert response.status_code == 200
    statuses = [(r.email, r.status) for r in response.context["report"]]
    assert statuses == [
        ("one@example.fi", "invited"),
        (member.user.email, "already_member"),
        ("not-an-email", "invalid"),
    ]
    inv = Invitation.objects.get(email="one@example.fi")
    assert list(inv.services.values_list("code", flat=True)) == ["laskutus"]
    upload = SimpleUploadedFile(
        "staff.csv",
        b"email,role,services\ntwo@example.fi,main_user,seuranta;lahetykset\none@example.fi,,\n",
        content_type="text/csv",
    )
    response = main_client.post(url, {"csv_file": upload, "role": "member"})
    statuses = [(r.email, r.status) for r in response.context["report"]]
    assert statuses == [("two@example.fi", "invited"), ("one@example.fi", "already_invited")]
    two = Invitation.objects.get(email="two@example.fi")
    assert two.role == "main_user"
    assert set(two.services.values_list("code", flat=True)) == {"seuranta", "lahetykset"}


def test_invite_form_default_role_and_services_apply_to_pasted_addresses(
    main_client, org, eservices
):
    url = reverse("organizations:invite", args=[org.pk])
    response = main_client.post(
        url,
        {
            "emails": "boss@example.fi, deputy@example.fi\nhelper@example.fi,member,seuranta",
            "role": "main_user",
            "services": ["laskutus"],
        },
    )
    assert [r.status for r in response.context["report"]] == ["invited"] * 3
    got = {
        i.email: (i.role, sorted(i.services.values_list("code", flat=True)))
        for i in Invitation.objects.all()
    }
    assert got == {
        "boss@example.fi": ("main_user", ["laskutus"]),
        "deputy@example.fi": ("main_user", ["laskutus"]),
        "helper@example.fi": ("member", ["seuranta"]),
    }


def test_invite_form_rejects_too_many_and_garbage(main_client, org):
    url = reverse("organizations:invite", args=[org.pk])
    many = "\n".join(f"u{i}@example.fi" for i in range(1001))
    response = main_client.post(url, {"emails": many, "role": "member"})
    assert response.status_code == 200
    assert response.context["form"].errors
    assert not Invitation.objects.exists()
    upload = SimpleUploadedFile("x.csv", b"\xff\xfe\x00bad", content_type="text/csv")
    response = main_client.post(url, {"csv_file": upload, "role": "member"})
    assert "csv_file" in response.context["form"].errors
    assert main_client.post(url, {"role": "member"}).status_code == 200


def test_invitations_resend_and_revoke(main_client, org):
    inv = services.membership_invite(organization=org, email="p@example.fi", actor=org.main_user)
    page = main_client.get(reverse("organizations:invitations", args=[org.pk]))
    assert b"p@example.fi" in page.content
    main_client.post(reverse("organizations:invitation_resend", args=[org.pk, inv.pk]))
    old_hash = inv.token_hash
    inv.refresh_from_db()
    assert inv.token_hash != old_hash
    main_client.post(reverse("organizations:invitation_revoke", args=[org.pk, inv.pk]))
    inv.refresh_from_db()
    assert inv.revoked_at is not None
    response = main_client.post(
        reverse("organizations:invitation_revoke", args=[org.pk, inv.pk]), follow=True
    )
    assert str(services.MSG_INVITATION_REVOKED) in response.content.decode()


def test_csv_export_is_formula_safe(main_client, org, make_user, staff):
    evil = make_user("evil@example.fi", first_name='=HYPERLINK("http://x")', last_name="+1")
    services.membership_create(organization=org, user=evil, actor=staff)
    response = main_client.get(reverse("organizations:export", args=[org.pk]))
    assert response.status_code == 200
    body = b"".join(response.streaming_content).decode().lstrip("\ufeff")
    rows = list(csv.reader(io.StringIO(body)))
    evil_row = next(r for r in rows if r[0] == "evil@example.fi")
    assert evil_row[1] == '\'=HYPERLINK("http://x")'
    assert evil_row[2] == "'+1"
    assert len(rows) == 3


@pytest.mark.parametrize(
    "value",
    ["=1+1", "+1", "-1", "@SUM(A1)", "\tx", "\rx", "\nx", "  =1+1", "\uff1d1+1", "\uff20SUM(A1)"],
)
def test_csv_safe_prefixes_formula_starts(value):
    assert csv_safe(value) == "'" + value
    assert csv_safe("plain") == "plain"
    assert csv_safe("a=b") == "a=b"
    assert csv_safe(None) == ""


def test_audit_trail_filters(main_client, org, add_member):
    m = add_member(org)
    services.membership_role_change(membership=m, role="main_user", actor=org.main_user)
    url = reverse("organizations:audit", args=[org.pk])
    response = main_client.get(url, {"action": "membership.role_changed"})
    assert [e.action for e in response.context["page"]] == ["membership.role_changed"]
    response = main_client.get(url, {"date_from": "2000-01-01", "date_to": "2000-01-02"})
    assert list(response.context["page"]) == []
    response = main_client.get(url, {"date_from": "garbage"})
    assert response.status_code == 200
    assert len(response.context["page"]) == AuditEvent.objects.filter(organization=org).count()


def test_audit_trail_query_count_same_at_two_sizes(main_client, org, django_assert_num_queries):
    url = reverse("organizations:audit", args=[org.pk])
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    main_client.get(url)
    with CaptureQueriesContext(connection) as small:
        main_client.get(url)
    services.invitations_bulk_create(
        organization=org,
        rows=[InviteRow(f"x{i}@example.fi") for i in range(80)],
        actor=org.main_user,
    )
    with django_assert_num_queries(len(small.captured_queries)):
        response = main_client.get(url + "?page=2")
    assert len(response.context["page"]) > 0
    print(f"audit page queries: {len(small.captured_queries)}")


def test_organization_list_and_switcher(client, make_user, staff):
    from tests.factories import OrganizationFactory

    user = make_user()
    orgs = [OrganizationFactory(name=n) for n in ("Aaa Oy", "Bbb Oy", "Ccc Oy")]
    for o in orgs:
        services.membership_create(organization=o, user=user, actor=staff)
    client.force_login(user)
    response = client.get(reverse("organizations:list"))
    content = response.content.decode()
    assert all(o.name in content for o in orgs)
    assert 'name="organization"' in content  # switcher shown
    response = client.post(reverse("organizations:switch"), {"organization": orgs[2].pk})
    assert response.status_code == 302
    assert client.session["organizations.current"] == orgs[2].pk
    response = client.get(reverse("organizations:list"))
    assert f'value="{orgs[2].pk}" selected' in response.content.decode()
    foreign = OrganizationFactory()
    assert (
        client.post(reverse("organizations:switch"), {"organization": foreign.pk}).status_code
        == 404
    )
    assert client.post(reverse("organizations:switch"), {"organization": "x"}).status_code == 404


def test_switcher_renders_nothing_for_anonymous_and_single_org(client, org):
    response = client.get("/")
    assert b'action="/organizations/switch/"' not in response.content
    client.force_login(org.main_user)
    response = client.get(reverse("organizations:list"))
    assert b'action="/organizations/switch/"' not in response.content


def test_switcher_query_budget(rf, make_user, staff, django_assert_max_num_queries):
    from django.contrib.sessions.backends.db import SessionStore
    from django.template.loader import render_to_string

    from organizations.context_processors import organizations
    from tests.factories import OrganizationFactory

    user = make_user()
    for _ in range(5):
        services.membership_create(organization=OrganizationFactory(), user=user, actor=staff)
    request = rf.get("/")
    request.user = user
    request.session = SessionStore()
    with django_assert_max_num_queries(1):
        html = render_to_string("organizations/_switcher.html", organizations(request), request)
    assert html.count("<option") == 5


@pytest.mark.parametrize("n", [1, 20])
def test_profile_section_query_budget(
    rf, make_user, staff, eservices, n, django_assert_num_queries
):
    from django.template.loader import render_to_string

    from tests.factories import OrganizationFactory

    user = make_user()
    for _ in range(n):
        services.membership_create(
            organization=OrganizationFactory(), user=user, actor=staff, services=["laskutus"]
        )
    request = rf.get("/profile/")
    request.user = user
    with django_assert_num_queries(2):
        html = render_to_string(
            "organizations/_profile_section.html", {"user": user, "request": request}
        )
    assert html.count("<tr>") == n + 1
    assert "laskutus fi" in html


def test_anonymous_is_sent_to_login(client, org):
    response = client.get(reverse("organizations:detail", args=[org.pk]))
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]


def test_user_factory_user_without_orgs_sees_empty_list(client, db):
    user = UserFactory()
    client.force_login(user)
    response = client.get(reverse("organizations:list"))
    assert response.status_code == 200
    assert response.context["memberships"] == []


def test_invitations_page_query_count_same_at_two_sizes(main_client, org, eservices):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    url = reverse("organizations:invitations", args=[org.pk])

    def invite(n, start):
        services.invitations_bulk_create(
            organization=org,
            rows=[InviteRow(f"i{start + i}@example.fi", "member", ("laskutus",)) for i in range(n)],
            actor=org.main_user,
        )

    invite(5, 0)
    main_client.get(url)
    with CaptureQueriesContext(connection) as small:
        main_client.get(url)
    invite(80, 100)
    with CaptureQueriesContext(connection) as large:
        response = main_client.get(url + "?page=2")
    assert len(response.context["page"]) == 35
    assert len(large.captured_queries) == len(small.captured_queries)
    print(f"invitations page queries: {len(small.captured_queries)}")


@pytest.mark.parametrize("bad_id", ["0", "99999999999999999999999"])
def test_out_of_range_ids_are_404_not_500(main_client, org, bad_id):
    assert main_client.get(f"/organizations/{bad_id}/").status_code == 404
    assert main_client.get(f"/organizations/{org.pk}/members/{bad_id}/").status_code == 404
    response = main_client.post(f"/organizations/{org.pk}/invitations/{bad_id}/revoke/")
    assert response.status_code == 404
    assert main_client.post("/organizations/switch/", {"organization": bad_id}).status_code == 404


def test_writes_require_csrf(org):
    from django.test import Client

    m = Membership.objects.get(organization=org, user=org.main_user)
    client = Client(enforce_csrf_checks=True)
    client.force_login(org.main_user)
    response = client.post(
        reverse("organizations:member_role", args=[org.pk, m.pk]), {"role": "member"}
    )
    assert response.status_code == 403
    m.refresh_from_db()
    assert m.is_main_user
