"""Shared logins (info@, toimisto@, ...): never a personal identity; staff hand one to the
organization's main user, who invites the real persons behind it."""

from __future__ import annotations

import re
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from django.urls import reverse

from migration.models import LegacyAccount, SharedLoginHandover
from migration.services import (
    legacy_accounts_import,
    legacy_accounts_merge,
    legacy_merge_plan,
    shared_login_hand_over,
    shared_mailbox_is,
)
from organizations import services as org_services
from organizations.models import Invitation, Membership, Organization
from posti_accounts.models import AuditEvent, User
from posti_accounts.services import user_create
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db
Reason = LegacyAccount.ConflictReason
BID = "0112038-9"
OTHER_BID = "0737546-2"


def _person(email: str, **extra) -> User:
    return user_create(
        email=email, password="correct-horse-battery-staple-42", email_verified=True, **extra
    )


@pytest.fixture
def legacy(service, write_csv):
    rows = [
        {
            "username": "pekka",
            "email": "pekka@kuljetus.fi",
            "business_id": BID,
            "organization_name": "Kuljetus Oy",
            "role": "admin",
        },
        {
            "username": "info_kuljetus",
            "email": "Info@Kuljetus.fi ",
            "business_id": BID,
            "organization_name": "Kuljetus Oy",
            "last_login": "01.03.2024 12:00",
        },
        {"username": "toimisto_x", "email": "toimisto@orpo.fi", "business_id": "2345678-0"},
    ]
    legacy_accounts_import(service_code=service.code, path=write_csv(rows), start_wrap=False)
    legacy_accounts_merge()
    return {a.username: a for a in LegacyAccount.objects.all()}


@pytest.fixture
def main_user(legacy):
    """Pekka, the organization's main user, after verifying his email."""
    user = User.objects.get(email="pekka@kuljetus.fi")
    Membership.objects.filter(user=user).update(status=Membership.Status.ACTIVE)
    User.objects.filter(pk=user.pk).update(
        requires_verify_email=False, requires_update_password=False
    )
    user.refresh_from_db()
    return user


@pytest.fixture
def staff(settings):
    settings.ADMIN_REQUIRE_2FA = False
    return UserFactory(is_staff=True, is_superuser=True)


def _url(organization: Organization) -> str:
    return reverse("migration:shared_logins", kwargs={"organization_id": organization.pk})


def test_shared_mailbox_rule():
    assert shared_mailbox_is("info@kuljetus.fi") and shared_mailbox_is("Toimisto@x.fi")
    assert not shared_mailbox_is("pekka@kuljetus.fi") and not shared_mailbox_is("")


def test_a_shared_mailbox_never_becomes_an_identity(legacy):
    assert not User.objects.filter(email__in=["info@kuljetus.fi", "toimisto@orpo.fi"]).exists()
    for name in ("info_kuljetus", "toimisto_x"):
        account = legacy[name]
        assert (account.state, account.conflict_reason) == ("conflict", Reason.SHARED_MAILBOX)
        assert account.user_id is None
    legacy_merge_plan()
    legacy_accounts_merge()  # again: still not merged
    assert not User.objects.filter(email="info@kuljetus.fi").exists()


def test_staff_hand_a_shared_login_to_the_main_user_in_the_admin(legacy, main_user, staff, client):
    client.force_login(staff)
    url = reverse("admin:migration_legacyconflict_changelist")
    ids = [legacy["info_kuljetus"].pk, legacy["toimisto_x"].pk, legacy["pekka"].pk]
    response = client.post(
        url, {"action": "shared_logins_hand_over", "_selected_action": ids}, follow=True
    )
    assert response.status_code == 200
    handover = SharedLoginHandover.objects.get()
    organization = Organization.objects.get(business_id=BID)
    assert (handover.account, handover.organization, handover.handed_by) == (
        legacy["info_kuljetus"],
        organization,
        staff,
    )
    event = AuditEvent.objects.get(action="legacy.shared_login_handed_over")
    assert event.actor == staff and event.organization == organization
    # One handed over; two refused (no organization with a main user / not a shared login).
    assert len(list(response.context["messages"])) == 2
    listed = {a.username: a for a in response.context["cl"].result_list}
    admin = response.context["cl"].model_admin
    assert admin.handed_over(listed["info_kuljetus"]) and not admin.handed_over(
        listed["toimisto_x"]
    )
    # Again: nothing new.
    result = shared_login_hand_over(account_ids=ids, actor=staff)
    assert (result.handed, result.already, result.refused) == (0, 1, 2)
    assert SharedLoginHandover.objects.count() == 1


def test_main_user_sees_the_shared_logins_of_the_organization(legacy, main_user, client):
    organization = Organization.objects.get(business_id=BID)
    shared_login_hand_over(account_ids=[legacy["info_kuljetus"].pk], actor=None)
    client.force_login(main_user)
    detail = client.get(reverse("organizations:detail", args=[organization.pk])).content.decode()
    assert f'href="{_url(organization)}"' in detail  # the tab in the sub-navigation
    assert "Yhteiskäyttöiset tunnukset" in detail  # Finnish by default
    page = client.get(_url(organization))
    assert page.status_code == 200
    html = page.content.decode()
    assert "info_kuljetus" in html and "Lähetykset" in html
    assert "1.3.2024" in html or "01.03.2024" in html  # last login in the old service
    # The old service access is offered as the default e-service.
    assert re.search(r'<input[^>]*value="lahetykset"[^>]*checked', html)


def test_no_tab_without_shared_logins(legacy, main_user, client):
    organization = Organization.objects.get(business_id=BID)
    client.force_login(main_user)
    detail = client.get(reverse("organizations:detail", args=[organization.pk])).content.decode()
    assert _url(organization) not in detail


def test_other_people_get_404(legacy, main_user, client):
    organization = Organization.objects.get(business_id=BID)
    handover = shared_login_hand_over(account_ids=[legacy["info_kuljetus"].pk], actor=None)
    assert handover.handed == 1
    stranger = _person("stranger@elsewhere.fi")
    other = org_services.organization_create(name="Muu Oy", business_id=OTHER_BID, actor=None)
    org_services.membership_create(
        organization=other, user=stranger, role=Membership.Role.MAIN_USER, actor=None
    )
    member = _person("member@kuljetus.fi")
    org_services.membership_create(organization=organization, user=member, actor=None)
    item = SharedLoginHandover.objects.get()
    invite_url = reverse(
        "migration:shared_login_invite",
        kwargs={"organization_id": organization.pk, "handover_id": item.pk},
    )
    for user in (stranger, member):
        client.force_login(user)
        assert client.get(_url(organization)).status_code == 404
        assert client.post(invite_url, {"emails": "x@kuljetus.fi"}).status_code == 404
    # The other organization's main user cannot reach the item through their own page.
    client.force_login(stranger)
    foreign = reverse(
        "migration:shared_login_invite",
        kwargs={"organization_id": other.pk, "handover_id": item.pk},
    )
    assert client.post(foreign, {"emails": "x@kuljetus.fi"}).status_code == 404
    assert client.get(_url(other)).status_code == 200
    assert "info_kuljetus" not in client.get(_url(other)).content.decode()
    assert not Invitation.objects.exists()


def test_main_user_invites_the_real_persons_and_the_item_closes(
    legacy, main_user, client, django_capture_on_commit_callbacks
):
    organization = Organization.objects.get(business_id=BID)
    shared_login_hand_over(account_ids=[legacy["info_kuljetus"].pk], actor=None)
    item = SharedLoginHandover.objects.get()
    client.force_login(main_user)
    url = reverse(
        "migration:shared_login_invite",
        kwargs={"organization_id": organization.pk, "handover_id": item.pk},
    )
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            url, {"emails": "liisa@kuljetus.fi\nOlli@Kuljetus.fi", "services": ["lahetykset"]}
        )
    assert response.status_code == 302
    invitations = Invitation.objects.filter(organization=organization).order_by("email")
    assert [i.email for i in invitations] == ["liisa@kuljetus.fi", "olli@kuljetus.fi"]
    for invitation in invitations:
        assert [s.code for s in invitation.services.all()] == ["lahetykset"]
        assert invitation.invited_by == main_user
    item.refresh_from_db()
    assert item.closed_at is not None and item.closed_by == main_user and item.invited == 2
    account = LegacyAccount.objects.get(pk=legacy["info_kuljetus"].pk)
    assert account.state == LegacyAccount.State.DROPPED and account.password_hash == ""
    event = AuditEvent.objects.get(action="legacy.shared_login_resolved")
    assert event.actor == main_user and event.organization == organization
    page = client.get(_url(organization)).content.decode()
    assert f'id="shared-{item.pk}"' not in page  # no longer waiting
    detail = client.get(reverse("organizations:detail", args=[organization.pk])).content.decode()
    assert _url(organization) not in detail  # and the tab is gone


def test_a_bad_address_changes_nothing(legacy, main_user, client):
    organization = Organization.objects.get(business_id=BID)
    shared_login_hand_over(account_ids=[legacy["info_kuljetus"].pk], actor=None)
    item = SharedLoginHandover.objects.get()
    client.force_login(main_user)
    url = reverse(
        "migration:shared_login_invite",
        kwargs={"organization_id": organization.pk, "handover_id": item.pk},
    )
    for emails in ("ok@kuljetus.fi\nnot-an-address", "", "info@kuljetus.fi"):
        response = client.post(url, {"emails": emails, "services": ["lahetykset"]})
        assert response.status_code == 200
        assert "errorlist" in response.content.decode()
    assert not Invitation.objects.exists()
    item.refresh_from_db()
    assert item.closed_at is None
    assert LegacyAccount.objects.get(pk=legacy["info_kuljetus"].pk).state == "conflict"


def test_last_login_is_shown(legacy):
    assert legacy["info_kuljetus"].last_login == datetime(
        2024, 3, 1, 12, 0, tzinfo=ZoneInfo("Europe/Helsinki")
    )


def test_page_queries_do_not_grow_with_the_number_of_shared_logins(
    legacy, main_user, client, service2, write_csv
):
    organization = Organization.objects.get(business_id=BID)
    shared_login_hand_over(account_ids=[legacy["info_kuljetus"].pk], actor=None)
    client.force_login(main_user)
    client.get(_url(organization))  # warm the session and caches

    def count() -> int:
        from django.db import connection
        from django.test.utils import CaptureQueriesContext

        with CaptureQueriesContext(connection) as ctx:
            assert client.get(_url(organization)).status_code == 200
        return len(ctx.captured_queries)

    one = count()
    rows = [
        {"username": f"{local}_k", "email": f"{local}@kuljetus.fi", "business_id": BID}
        for local in ("toimisto", "asiakaspalvelu", "office", "myynti", "laskutus")
    ]
    legacy_accounts_import(service_code=service2.code, path=write_csv(rows), start_wrap=False)
    legacy_merge_plan()
    shared = LegacyAccount.objects.filter(conflict_reason=Reason.SHARED_MAILBOX, business_id=BID)
    assert (
        shared_login_hand_over(
            account_ids=list(shared.values_list("pk", flat=True)), actor=None
        ).handed
        == 5
    )
    assert count() == one


def test_the_plan_and_shared_mailbox_is_agree(service2, write_csv):
    emails = [
        "info@a.fi",
        "info.x@a.fi",
        "xinfo@a.fi",
        "info+tilaus@a.fi",
        " Toimisto@B.fi",
        "MYYNTI@c.fi",
        "admin@d.fi",
        "administrator@d.fi",
        "noreply@e.fi",
    ]
    rows = [{"username": f"u{n}", "email": e} for n, e in enumerate(emails)]
    legacy_accounts_import(service_code=service2.code, path=write_csv(rows), start_wrap=False)
    legacy_merge_plan()
    accounts = LegacyAccount.objects.filter(service=service2)
    assert accounts.count() == len(emails)
    for account in accounts:
        flagged = account.conflict_reason == Reason.SHARED_MAILBOX
        assert flagged == shared_mailbox_is(account.email), account.email
    assert accounts.filter(conflict_reason=Reason.SHARED_MAILBOX).count() == 5
