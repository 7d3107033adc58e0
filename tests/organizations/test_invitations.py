from __future__ import annotations

import hashlib
from datetime import timedelta

import pytest
from django.core import mail
from django.utils import timezone

from kernel.errors import ApplicationError
from organizations import services
from organizations.models import Invitation, Membership
from organizations.services import InviteRow
from organizations.services import invitations as invitations_module
from posti_accounts.models import AuditEvent


def test_invite_stores_only_hash_and_emails_link(
    org, eservices, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        inv = services.membership_invite(
            organization=org, email=" New@Example.FI ", services=["laskutus"], actor=org.main_user
        )
    assert inv.email == "new@example.fi"
    assert inv.token_hash == hashlib.sha256(inv.token.encode()).hexdigest()
    assert inv.token not in str(Invitation.objects.filter(pk=inv.pk).values().get())
    assert list(inv.services.values_list("code", flat=True)) == ["laskutus"]
    assert len(mail.outbox) == 1
    assert f"/organizations/invitations/{inv.token}/" in mail.outbox[0].body
    event = AuditEvent.objects.get(action="invitation.created")
    assert event.actor == org.main_user and event.organization == org
    assert inv.token not in str(event.details)
    assert (inv.expires_at - timezone.now()).days in (6, 7)


def test_invite_refuses_member_and_duplicate(org, add_member):
    m = add_member(org)
    with pytest.raises(ApplicationError) as exc:
        services.membership_invite(organization=org, email=m.user.email, actor=org.main_user)
    assert exc.value.code == "already_member"
    services.membership_invite(organization=org, email="x@example.fi", actor=org.main_user)
    with pytest.raises(ApplicationError) as exc:
        services.membership_invite(organization=org, email="X@example.fi", actor=org.main_user)
    assert exc.value.code == "already_invited"
    with pytest.raises(ApplicationError) as exc:
        services.membership_invite(organization=org, email="not-an-email", actor=org.main_user)
    assert exc.value.code == "invalid_email"


def test_bulk_invite_reports_each_address(org, add_member, eservices):
    member = add_member(org)
    services.membership_invite(organization=org, email="open@example.fi", actor=org.main_user)
    rows = [
        InviteRow("a@example.fi", "member", ("laskutus",)),
        InviteRow(member.user.email),
        InviteRow("open@example.fi"),
        InviteRow("bad@@example"),
        InviteRow("b@example.fi", "boss"),
        InviteRow("c@example.fi", "", ("unknown",)),
        InviteRow("A@example.fi"),  # duplicate within the list
        InviteRow("d@example.fi", "main_user"),
    ]
    report = services.invitations_bulk_create(organization=org, rows=rows, actor=org.main_user)
    assert [(r.email, r.status) for r in report] == [
        ("a@example.fi", "invited"),
        (member.user.email, "already_member"),
        ("open@example.fi", "already_invited"),
        ("bad@@example", "invalid"),
        ("b@example.fi", "invalid"),
        ("c@example.fi", "invalid"),
        ("a@example.fi", "already_invited"),
        ("d@example.fi", "invited"),
    ]
    assert report[5].code == "unknown_service"
    created = Invitation.objects.filter(
        organization=org, email__in=["a@example.fi", "d@example.fi"]
    )
    assert {i.email: i.role for i in created} == {
        "a@example.fi": "member",
        "d@example.fi": "main_user",
    }
    assert list(created.get(email="a@example.fi").services.values_list("code", flat=True)) == [
        "laskutus"
    ]
    assert AuditEvent.objects.filter(action="invitation.created").count() == 3


def test_bulk_invite_limits(org):
    with pytest.raises(ApplicationError) as exc:
        services.invitations_bulk_create(
            organization=org,
            rows=[InviteRow(f"u{i}@example.fi") for i in range(1001)],
            actor=org.main_user,
        )
    assert exc.value.code == "too_many_rows"
    assert not Invitation.objects.exists()


def test_bulk_invite_is_all_or_nothing(org, monkeypatch):
    """A failure in the middle of the write leaves nothing behind (no invitations, no audit)."""
    from posti_accounts import audit

    def boom(events):
        raise RuntimeError("disk full")

    monkeypatch.setattr(invitations_module, "audit_events_bulk_record", boom)
    with pytest.raises(RuntimeError):
        services.invitations_bulk_create(
            organization=org,
            rows=[InviteRow(f"u{i}@example.fi") for i in range(5)],
            actor=org.main_user,
        )
    assert not Invitation.objects.exists()
    assert audit.AuditEvent.objects.filter(action="invitation.created").count() == 0


def _bulk_invite_queries(org, size, django_assert_max_num_queries, limit):
    rows = [InviteRow(f"u{i}@example.fi", "member", ("laskutus",)) for i in range(size)]
    with django_assert_max_num_queries(limit) as ctx:
        report = services.invitations_bulk_create(organization=org, rows=rows, actor=org.main_user)
    assert sum(r.status == "invited" for r in report) == size
    return len(ctx.captured_queries)


# SQLite splits a bulk INSERT into batches of 999 parameters (~90 invitations), so the sizes
# stay within one batch there; the PostgreSQL test below goes up to the 1,000-row maximum.
def test_bulk_invite_query_count_is_bounded(org, eservices, django_assert_max_num_queries):
    small = _bulk_invite_queries(org, 10, django_assert_max_num_queries, 12)
    Invitation.objects.all().delete()
    large = _bulk_invite_queries(org, 80, django_assert_max_num_queries, 12)
    assert small == large


@pytest.mark.postgres
def test_bulk_invite_query_count_same_at_10_and_1000_rows(
    org, eservices, django_assert_max_num_queries
):
    small = _bulk_invite_queries(org, 10, django_assert_max_num_queries, 12)
    Invitation.objects.all().delete()
    large = _bulk_invite_queries(org, 1000, django_assert_max_num_queries, 12)
    assert small == large


def test_invite_rows_parse_csv_and_plain():
    rows = services.invite_rows_parse(
        "email,role,services\na@x.fi,main_user,laskutus;seuranta\nb@x.fi\n"
    )
    assert rows == [
        InviteRow("a@x.fi", "main_user", ("laskutus", "seuranta"), 2),
        InviteRow("b@x.fi", "", (), 3),
    ]
    plain = services.invite_rows_parse("a@x.fi b@x.fi\nc@x.fi; d@x.fi")
    assert [r.email for r in plain] == ["a@x.fi", "b@x.fi", "c@x.fi", "d@x.fi"]


# --- accepting ---------------------------------------------------------------------------


def _invite(org, email="new@example.fi", **kw):
    return services.membership_invite(organization=org, email=email, actor=org.main_user, **kw)


def test_accept_creates_membership_with_role_and_services(org, make_user, eservices):
    inv = _invite(org, role="main_user", services=["seuranta"])
    user = make_user("new@example.fi")
    m = services.invitation_accept(token=inv.token, user=user)
    assert m.is_main_user and m.source == Membership.Source.INVITATION
    assert m.added_by == org.main_user
    assert list(m.services.values_list("code", flat=True)) == ["seuranta"]
    inv.refresh_from_db()
    assert inv.accepted_by == user and inv.accepted_at is not None
    with pytest.raises(ApplicationError) as exc:
        services.invitation_accept(token=inv.token, user=user)
    assert exc.value.code == "invitation_used"
    assert Membership.objects.filter(user=user, organization=org).count() == 1


def test_stranger_cannot_accept(org, make_user):
    inv = _invite(org)
    stranger = make_user("stranger@example.fi")
    with pytest.raises(ApplicationError) as exc:
        services.invitation_accept(token=inv.token, user=stranger)
    assert exc.value.code == "invitation_other_email"
    assert not Membership.objects.filter(user=stranger).exists()


def test_unverified_email_cannot_accept(org, make_user):
    inv = _invite(org)
    user = make_user("new@example.fi", verified=False)
    with pytest.raises(ApplicationError) as exc:
        services.invitation_accept(token=inv.token, user=user)
    assert exc.value.code == "email_not_verified"


def test_expired_revoked_and_unknown_links_say_so(org, make_user):
    user = make_user("new@example.fi")
    inv = _invite(org)
    Invitation.objects.filter(pk=inv.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    with pytest.raises(ApplicationError) as exc:
        services.invitation_accept(token=inv.token, user=user)
    assert exc.value.code == "invitation_expired"
    services.invitation_revoke(invitation=inv, actor=org.main_user)
    with pytest.raises(ApplicationError) as exc:
        services.invitation_accept(token=inv.token, user=user)
    assert exc.value.code == "invitation_revoked"
    with pytest.raises(ApplicationError) as exc:
        services.invitation_accept(token="nonsense", user=user)
    assert exc.value.code == "invitation_invalid"


def test_expired_open_invitation_can_be_replaced(org):
    inv = _invite(org)
    Invitation.objects.filter(pk=inv.pk).update(expires_at=timezone.now() - timedelta(days=1))
    new = _invite(org)
    inv.refresh_from_db()
    assert inv.revoked_at is not None and new.pk != inv.pk


def test_resend_rotates_token(org, make_user, django_capture_on_commit_callbacks):
    inv = _invite(org)
    with django_capture_on_commit_callbacks(execute=True):
        resent = services.invitation_resend(invitation=inv, actor=org.main_user)
    assert resent.token != inv.token
    assert len(mail.outbox) == 1 and resent.token in mail.outbox[0].body
    user = make_user("new@example.fi")
    with pytest.raises(ApplicationError):
        services.invitation_accept(token=inv.token, user=user)
    services.invitation_accept(token=resent.token, user=user)
    assert AuditEvent.objects.filter(action="invitation.resent").count() == 1


def test_accept_activates_existing_pending_membership_without_duplicate(org, make_user, staff):
    user = make_user("new@example.fi")
    services.membership_create(
        organization=org,
        user=user,
        actor=staff,
        status=Membership.Status.PENDING,
        source=Membership.Source.LEGACY,
    )
    inv = Invitation.objects.create(
        organization=org,
        email="new@example.fi",
        token_hash=services.token_hash("t" * 40),
        expires_at=timezone.now() + timedelta(days=1),
    )
    m = services.invitation_accept(token="t" * 40, user=user)
    assert m.status == Membership.Status.ACTIVE
    assert Membership.objects.filter(user=user, organization=org).count() == 1
    inv.refresh_from_db()
    assert inv.accepted_at is not None


def test_invitation_email_uses_existing_users_language(
    org, make_user, django_capture_on_commit_callbacks
):
    make_user("svensk@example.fi", preferred_language="sv")
    with django_capture_on_commit_callbacks(execute=True):
        _invite(org, email="svensk@example.fi")
    assert mail.outbox[0].subject == "Inbjudan till Alpha Oy"


def test_invite_rows_parse_address_lists_and_semicolon_csv():
    # A comma-separated list of addresses is not "an address with a role".
    assert [(r.email, r.role) for r in services.invite_rows_parse("a@x.fi, b@x.fi,c@x.fi")] == [
        ("a@x.fi", ""),
        ("b@x.fi", ""),
        ("c@x.fi", ""),
    ]
    # Spreadsheets in Finnish/Swedish locales save CSV with semicolons.
    rows = services.invite_rows_parse(
        "sähköposti;rooli;palvelut\na@x.fi;pääkäyttäjä;laskutus,seuranta\nb@x.fi;jäsen\n"
    )
    assert rows == [
        InviteRow("a@x.fi", "pääkäyttäjä", ("laskutus", "seuranta"), 2),
        InviteRow("b@x.fi", "jäsen", (), 3),
    ]
