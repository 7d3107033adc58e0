"""The main users' Rollout page: per-member state, counts, filters, tenancy, reminders."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.contrib.auth.models import Permission
from django.core import mail
from django.db import connection
from django.db.models import Q
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from kernel.errors import ApplicationError
from organizations import rollout_selectors, services
from organizations.models import Membership
from posti_accounts.models import AuditEvent, User
from posti_accounts.services import user_details_confirm
from tests.factories import OrganizationFactory

pytestmark = pytest.mark.django_db


def _done(user: User) -> User:
    """Confirmed details, verified email (the fixture's default) and a new password."""
    user_details_confirm(user=user)
    user.refresh_from_db()
    return user


@pytest.fixture
def rollout_org(org, add_member, make_user):
    """main user (not confirmed), a done member, an unverified member, a member whose address
    bounced, a shared mailbox and a member without a new password."""
    members = {
        "done": add_member(org).user,
        "unverified": add_member(org, verified=False).user,
        "bounced": add_member(org).user,
        "shared": add_member(org, email="info@alpha.example").user,
        "no_password": add_member(org).user,
    }
    _done(members["done"])
    User.objects.filter(pk=members["bounced"].pk).update(
        email_undeliverable_at=timezone.now(), email_undeliverable_reason="550 no such user"
    )
    User.objects.filter(pk=members["no_password"].pk).update(password_changed_at=None)
    org.members = members
    return org


def _url(org, name="organizations:rollout"):
    return reverse(name, args=[org.pk])


def test_counts_and_flags(rollout_org):
    counts = rollout_selectors.organization_rollout_counts(organization=rollout_org)
    assert counts["total"] == 6
    assert counts["done"] == 1
    assert counts["not_done"] == 5
    assert counts["details_confirmed"] == 1
    assert counts["email_verified"] == 5
    assert counts["password_renewed"] == 5
    assert counts["undeliverable"] == 1
    assert counts["shared_mailbox"] == 1
    rows = {
        m.user_id: m
        for m in rollout_selectors.organization_rollout_members(organization=rollout_org)
    }
    members = rollout_org.members
    assert rows[members["done"].pk].r_done is True
    assert rows[members["unverified"].pk].r_email is False
    assert rows[members["bounced"].pk].r_undeliverable is True
    assert rows[members["shared"].pk].r_shared is True
    assert rows[members["no_password"].pk].r_password is False
    assert rows[rollout_org.main_user.pk].r_details is False


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        ("done", {"done"}),
        ("email_not_verified", {"unverified"}),
        ("undeliverable", {"bounced"}),
        ("shared_mailbox", {"shared"}),
        ("password_not_renewed", {"no_password"}),
    ],
)
def test_filters(rollout_org, status, expected):
    found = {
        m.user_id
        for m in rollout_selectors.organization_rollout_members(
            organization=rollout_org, status=status
        )
    }
    assert found == {rollout_org.members[key].pk for key in expected}


def test_removed_members_are_not_counted(rollout_org, staff):
    membership = Membership.objects.get(user=rollout_org.members["done"], organization=rollout_org)
    services.membership_remove(membership=membership, actor=staff)
    assert rollout_selectors.organization_rollout_counts(organization=rollout_org)["total"] == 5


def test_registered_shared_login_condition(rollout_org):
    target = rollout_org.members["done"]

    def condition():
        return Q(user__email=target.email)

    rollout_selectors.shared_login_condition_register(condition)
    try:
        counts = rollout_selectors.organization_rollout_counts(organization=rollout_org)
    finally:
        rollout_selectors.shared_login_condition_unregister(condition)
    assert counts["shared_mailbox"] == 2


def test_page_for_main_user(client, rollout_org):
    client.force_login(rollout_org.main_user)
    response = client.get(_url(rollout_org), {"status": "undeliverable"})
    assert response.status_code == 200
    body = response.content.decode()
    assert rollout_org.members["bounced"].email in body
    assert "550 no such user" in body
    assert rollout_org.members["done"].email not in body
    assert response.context["counts"]["total"] == 6


def test_bad_filter_values_are_no_500(client, rollout_org):
    client.force_login(rollout_org.main_user)
    response = client.get(_url(rollout_org), {"status": "nope\x00", "q": "a\x00b", "page": "x"})
    assert response.status_code == 200


def test_tenancy(client, rollout_org, make_user, add_member):
    other = OrganizationFactory(name="Beta Oy")
    outsider = make_user("outsider@example.fi")
    services.membership_create(
        organization=other, user=outsider, role=Membership.Role.MAIN_USER, actor=None
    )
    client.force_login(outsider)
    assert client.get(_url(rollout_org)).status_code == 404
    assert client.post(_url(rollout_org, "organizations:rollout_remind")).status_code == 404
    member = rollout_org.members["done"]
    client.force_login(member)  # a plain member of the organization
    assert client.get(_url(rollout_org)).status_code == 404
    assert client.post(_url(rollout_org, "organizations:rollout_remind")).status_code == 404
    assert not AuditEvent.objects.filter(action=rollout_selectors.REMINDER_ACTION).exists()
    client.logout()
    assert client.get(_url(rollout_org)).status_code == 302


def test_staff_need_the_view_permission(client, rollout_org, staff, settings):
    settings.ADMIN_REQUIRE_2FA = False
    client.force_login(staff)
    assert client.get(_url(rollout_org)).status_code == 404
    staff.user_permissions.add(Permission.objects.get(codename="view_organization"))
    staff = User.objects.get(pk=staff.pk)
    client.force_login(staff)
    assert client.get(_url(rollout_org)).status_code == 200


def test_staff_need_a_verified_session_where_the_admin_does(client, rollout_org, staff, settings):
    settings.ADMIN_REQUIRE_2FA = True
    staff.user_permissions.add(Permission.objects.get(codename="view_organization"))
    client.force_login(User.objects.get(pk=staff.pk))  # password only, no 2FA step
    assert client.get(_url(rollout_org)).status_code == 404
    assert client.post(_url(rollout_org, "organizations:rollout_remind")).status_code == 404


def test_query_count_constant(client, org, add_member):
    client.force_login(org.main_user)
    client.get(_url(org))  # warm up session and content types

    def measure():
        with CaptureQueriesContext(connection) as ctx:
            assert client.get(_url(org), {"status": "not_done"}).status_code == 200
        return len(ctx.captured_queries)

    for _ in range(3):
        add_member(org)
    small = measure()
    for _ in range(60):
        add_member(org)
    large = measure()
    assert small == large
    assert large <= 10


def test_reminder_sends_to_those_not_done(
    client, rollout_org, settings, django_capture_on_commit_callbacks
):
    members = rollout_org.members
    User.objects.filter(pk=members["unverified"].pk).update(preferred_language="sv")
    client.force_login(rollout_org.main_user)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(_url(rollout_org, "organizations:rollout_remind"))
    assert response.status_code == 302
    to = {message.to[0]: message for message in mail.outbox}
    # Not the one who is done, not the bounced address.
    assert set(to) == {
        rollout_org.main_user.email,
        members["unverified"].email,
        members["shared"].email,
        members["no_password"].email,
    }
    swedish = to[members["unverified"].email]
    assert "Påminnelse" in swedish.subject
    assert settings.SITE_URL.rstrip("/") + "/accounts/login/" in swedish.body
    events = AuditEvent.objects.filter(action=rollout_selectors.REMINDER_ACTION)
    assert events.count() == 4
    assert set(events.values_list("organization_id", flat=True)) == {rollout_org.pk}
    assert set(events.values_list("actor_id", flat=True)) == {rollout_org.main_user.pk}
    summary = AuditEvent.objects.get(action="rollout.reminders_requested")
    assert summary.details == {"sent": 4, "left_over": 0}


def test_reminder_only_once_a_day_per_person(rollout_org, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        services.rollout_reminders_send(organization=rollout_org, actor=rollout_org.main_user)
    sent = len(mail.outbox)
    with pytest.raises(ApplicationError) as exc:
        services.rollout_reminders_send(organization=rollout_org, actor=rollout_org.main_user)
    assert exc.value.code == "reminder_nobody"
    assert len(mail.outbox) == sent
    # A day later they can be reminded again.
    AuditEvent.objects.filter(action=rollout_selectors.REMINDER_ACTION).update(
        created_at=timezone.now() - timedelta(hours=25)
    )
    outcome = services.rollout_reminders_send(organization=rollout_org, actor=rollout_org.main_user)
    assert outcome.sent == sent


def test_reminder_per_person_across_organizations(rollout_org, staff):
    person = rollout_org.members["unverified"]
    other = OrganizationFactory(name="Gamma Oy")
    services.membership_create(organization=other, user=person, actor=staff)
    services.rollout_reminders_send(organization=rollout_org, actor=rollout_org.main_user)
    with pytest.raises(ApplicationError):
        services.rollout_reminders_send(organization=other, actor=staff)


def test_reminder_quota(rollout_org, settings):
    settings.ROLLOUT_REMINDER_DAILY_QUOTA = 3
    outcome = services.rollout_reminders_send(organization=rollout_org, actor=rollout_org.main_user)
    assert (outcome.sent, outcome.left_over) == (3, 1)
    with pytest.raises(ApplicationError) as exc:
        services.rollout_reminders_send(organization=rollout_org, actor=rollout_org.main_user)
    assert exc.value.code == "reminder_quota_exceeded"
    assert AuditEvent.objects.filter(action=rollout_selectors.REMINDER_ACTION).count() == 3


def test_reminder_view_reports_refusal(client, rollout_org):
    client.force_login(rollout_org.main_user)
    client.post(_url(rollout_org, "organizations:rollout_remind"))
    response = client.post(_url(rollout_org, "organizations:rollout_remind"), follow=True)
    assert response.status_code == 200
    assert any(m.level_tag == "error" for m in response.context["messages"])
    assert client.get(_url(rollout_org, "organizations:rollout_remind")).status_code == 405
