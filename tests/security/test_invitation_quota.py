"""Finding 11: invitations cannot be used to mass-mail arbitrary addresses.

Rules:
- An organization sends at most `INVITATION_DAILY_QUOTA` invitation emails (new invitations
  and resends) in any 24 hours, whoever sent them.
- Staff actors are exempt (migration and support invite on an organization's behalf); what
  they send still counts toward the organization's day.
- A request that would exceed the quota is refused whole (`invitation_quota_exceeded`, a
  clear message saying how many are left; the API answers 429 with Retry-After): nothing is
  created, no email is sent.
- The organization row is locked while counting, so two concurrent requests cannot both pass.
"""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from django.core import mail
from django.db import connection
from django.utils import timezone
from rest_framework.test import APIClient

from kernel.errors import ApplicationError
from organizations import services
from organizations.models import Invitation
from posti_accounts.models import AuditEvent
from tests.factories import UserFactory

QUOTA = 5


@pytest.fixture(autouse=True)
def _quota(settings):
    settings.INVITATION_DAILY_QUOTA = QUOTA


@pytest.fixture
def main_user(db):
    return UserFactory(email="main@example.fi", password="x" * 16)


@pytest.fixture
def org(main_user):
    return services.organization_create(
        name="Alfa Oy", business_id="1234567-1", actor=None, main_user=main_user
    )


def _rows(n: int, start: int = 0):
    return [services.InviteRow(email=f"r{i}@example.com") for i in range(start, start + n)]


def _invitations(org) -> int:
    return Invitation.objects.filter(organization=org).count()


@pytest.mark.django_db
def test_bulk_request_over_the_quota_is_refused_whole(
    org, main_user, django_capture_on_commit_callbacks
):
    with (
        django_capture_on_commit_callbacks(execute=True),
        pytest.raises(ApplicationError) as refused,
    ):
        services.invitations_bulk_create(organization=org, rows=_rows(QUOTA + 1), actor=main_user)
    assert refused.value.code == "invitation_quota_exceeded"
    assert "5" in str(refused.value.message)
    assert _invitations(org) == 0
    assert mail.outbox == []
    assert not AuditEvent.objects.filter(action="invitation.created").exists()


@pytest.mark.django_db
def test_quota_adds_up_over_requests(org, main_user):
    report = services.invitations_bulk_create(organization=org, rows=_rows(3), actor=main_user)
    assert [o.status for o in report] == ["invited"] * 3
    with pytest.raises(ApplicationError) as refused:
        services.invitations_bulk_create(organization=org, rows=_rows(3, start=3), actor=main_user)
    assert refused.value.code == "invitation_quota_exceeded"
    assert refused.value.extra["remaining"] == 2
    assert _invitations(org) == 3
    services.invitations_bulk_create(organization=org, rows=_rows(2, start=3), actor=main_user)
    with pytest.raises(ApplicationError) as refused:
        services.membership_invite(organization=org, email="one-more@example.com", actor=main_user)
    assert refused.value.code == "invitation_quota_exceeded"
    assert _invitations(org) == QUOTA


@pytest.mark.django_db
def test_rows_that_send_nothing_do_not_count(org, main_user):
    services.invitations_bulk_create(organization=org, rows=_rows(QUOTA), actor=main_user)
    # Already invited, invalid: nothing to send, so nothing is refused.
    report = services.invitations_bulk_create(
        organization=org,
        rows=[*_rows(2), services.InviteRow(email="not-an-address")],
        actor=main_user,
    )
    assert [o.status for o in report] == ["already_invited", "already_invited", "invalid"]


@pytest.mark.django_db
def test_resends_count(org, main_user):
    invitation = services.membership_invite(
        organization=org, email="again@example.com", actor=main_user
    )
    for _ in range(QUOTA - 1):
        services.invitation_resend(invitation=invitation, actor=main_user)
    with pytest.raises(ApplicationError) as refused:
        services.invitation_resend(invitation=invitation, actor=main_user)
    assert refused.value.code == "invitation_quota_exceeded"
    invitation.refresh_from_db()
    assert AuditEvent.objects.filter(action="invitation.resent").count() == QUOTA - 1


@pytest.mark.django_db
def test_the_window_is_the_last_24_hours(org, main_user):
    services.invitations_bulk_create(organization=org, rows=_rows(QUOTA), actor=main_user)
    AuditEvent.objects.filter(action="invitation.created").update(
        created_at=timezone.now() - timedelta(hours=24, minutes=1)
    )
    report = services.invitations_bulk_create(
        organization=org, rows=_rows(QUOTA, start=100), actor=main_user
    )
    assert [o.status for o in report] == ["invited"] * QUOTA


@pytest.mark.django_db
def test_quota_is_per_organization(org, main_user):
    other = services.organization_create(
        name="Beta Oy", business_id="7654321-2", actor=None, main_user=main_user
    )
    services.invitations_bulk_create(organization=org, rows=_rows(QUOTA), actor=main_user)
    services.invitations_bulk_create(organization=other, rows=_rows(QUOTA), actor=main_user)
    assert _invitations(other) == QUOTA


@pytest.mark.django_db
def test_staff_are_exempt(org, main_user):
    staff = UserFactory(email="staff@posti.example", is_staff=True)
    services.invitations_bulk_create(organization=org, rows=_rows(QUOTA * 2), actor=staff)
    assert _invitations(org) == QUOTA * 2
    # ... and what staff sent still fills the organization's day.
    with pytest.raises(ApplicationError):
        services.membership_invite(organization=org, email="x@example.com", actor=main_user)


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("invitations", {"invitations": [{"email": f"a{i}@example.com"} for i in range(2)]}),
        ("members", {"email": "a0@example.com"}),
    ],
)
def test_api_answers_429_with_a_stable_code(org, main_user, path, body):
    client = APIClient()
    client.force_login(main_user)
    services.invitations_bulk_create(organization=org, rows=_rows(QUOTA), actor=main_user)
    AuditEvent.objects.filter(action="invitation.created").update(
        created_at=timezone.now() - timedelta(hours=23)
    )
    response = client.post(f"/api/v1/organizations/{org.pk}/{path}", body, format="json")
    assert response.status_code == 429
    error = response.json()["error"]
    assert error["code"] == "invitation_quota_exceeded"
    assert "5" in error["message"]
    # The day's first invitations leave the window in about an hour.
    assert 3500 < int(response["Retry-After"]) <= 3600
    assert not Invitation.objects.filter(email__startswith="a").exists()


@pytest.mark.django_db
def test_api_request_larger_than_the_quota_gets_no_retry_after(org, main_user):
    client = APIClient()
    client.force_login(main_user)
    body = {"invitations": [{"email": f"a{i}@example.com"} for i in range(QUOTA + 1)]}
    response = client.post(f"/api/v1/organizations/{org.pk}/invitations", body, format="json")
    assert response.status_code == 429
    assert response.json()["error"]["code"] == "invitation_quota_exceeded"
    assert "Retry-After" not in response
    assert _invitations(org) == 0


@pytest.mark.django_db
def test_main_user_page_shows_the_refusal(org, main_user, client):
    client.force_login(main_user)
    services.invitations_bulk_create(organization=org, rows=_rows(QUOTA - 1), actor=main_user)
    response = client.post(
        f"/organizations/{org.pk}/invite/",
        {"emails": "late@example.com other@example.com", "role": "member"},
    )
    assert response.status_code == 200
    page = response.content.decode()
    assert "enintään 5 kutsua 24 tunnin aikana" in page
    assert "Nyt voi lähettää vielä 1" in page
    assert not Invitation.objects.filter(
        email__in=["late@example.com", "other@example.com"]
    ).exists()


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_concurrent_requests_cannot_both_pass(org, main_user):
    barrier = threading.Barrier(2)
    results: list = [None, None]

    def run(i):
        try:
            barrier.wait(timeout=10)
            services.invitations_bulk_create(
                organization=org, rows=_rows(3, start=10 * i), actor=main_user
            )
            results[i] = "ok"
        except ApplicationError as exc:
            results[i] = exc.code
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert sorted(results) == ["invitation_quota_exceeded", "ok"]
    assert _invitations(org) == 3
