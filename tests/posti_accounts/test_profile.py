import json

import pytest
from django.urls import reverse

from posti_accounts.audit import audit_event_record
from posti_accounts.models import AuditEvent, User
from posti_accounts.phone import MSG_PHONE_INVALID
from posti_accounts.services import user_required_action_set
from tests.factories import MembershipFactory, OrganizationFactory

pytestmark = pytest.mark.django_db


def test_anonymous_is_sent_to_login(client):
    response = client.get(reverse("posti_accounts:profile"))
    assert response.status_code == 302
    assert reverse("account_login") in response["Location"]


def test_profile_shows_own_details(client_logged_in, user):
    response = client_logged_in.get(reverse("posti_accounts:profile"))
    assert response.status_code == 200
    body = response.content.decode()
    assert user.email in body
    assert user.get_full_name() in body
    assert '<html lang="fi">' in body


def _add_events(user, n):
    for i in range(n):
        audit_event_record(actor=user, action="details.updated", target_user=user, details={"i": i})


def test_profile_query_count_does_not_grow_with_data(
    client_logged_in, user, django_assert_num_queries
):
    url = reverse("posti_accounts:profile")
    _add_events(user, 2)
    MembershipFactory(user=user)
    client_logged_in.get(url)  # warm-up (session, content types)
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as small:
        assert client_logged_in.get(url).status_code == 200
    _add_events(user, 40)
    for _ in range(5):
        MembershipFactory(user=user, organization=OrganizationFactory())
    with django_assert_num_queries(len(small.captured_queries)):
        assert client_logged_in.get(url).status_code == 200
    assert len(small.captured_queries) <= 20


def test_details_edit_normalizes_phone_and_records_event(client_logged_in, user):
    response = client_logged_in.post(
        reverse("posti_accounts:details_edit"),
        {
            "first_name": " Maija ",
            "last_name": "Virtanen",
            "phone": "040 123 4567",
            "preferred_language": "sv",
        },
    )
    assert response.status_code == 302
    user.refresh_from_db()
    assert (user.first_name, user.last_name, user.phone, user.preferred_language) == (
        "Maija",
        "Virtanen",
        "+358401234567",
        "sv",
    )
    event = AuditEvent.objects.get(action="details.updated", target_user=user)
    assert set(event.details["fields"]) == {
        "first_name",
        "last_name",
        "phone",
        "preferred_language",
    }
    assert event.actor == user


def test_details_edit_invalid_phone_changes_nothing(client_logged_in, user):
    before = User.objects.get(pk=user.pk)
    response = client_logged_in.post(
        reverse("posti_accounts:details_edit"),
        {"first_name": "X", "last_name": "Y", "phone": "12ab", "preferred_language": "fi"},
    )
    assert response.status_code == 200
    assert (
        str(MSG_PHONE_INVALID) in response.content.decode()
        or "puhelinnumero" in response.content.decode()
    )
    user.refresh_from_db()
    assert (user.first_name, user.phone) == (before.first_name, before.phone)
    assert not AuditEvent.objects.filter(action="details.updated").exists()


def test_details_edit_cannot_touch_email_or_staff(client_logged_in, user):
    client_logged_in.post(
        reverse("posti_accounts:details_edit"),
        {
            "first_name": "A",
            "last_name": "B",
            "phone": "",
            "preferred_language": "fi",
            "email": "evil@example.fi",
            "is_staff": "on",
            "is_superuser": "on",
        },
    )
    user.refresh_from_db()
    assert user.email != "evil@example.fi"
    assert not user.is_staff and not user.is_superuser


def test_confirm_details_records_time_and_clears_required_action(client_logged_in, user):
    user_required_action_set(user=user, action="check_details", actor=None)
    response = client_logged_in.post(reverse("posti_accounts:details_confirm"))
    assert response.status_code == 302
    user.refresh_from_db()
    assert user.details_confirmed_at is not None
    assert user.requires_check_details is False
    assert AuditEvent.objects.filter(action="details.confirmed", target_user=user).count() == 1
    assert (
        AuditEvent.objects.filter(action="required_action.completed", target_user=user).count() == 1
    )


def test_confirm_requires_post(client_logged_in, user):
    assert client_logged_in.get(reverse("posti_accounts:details_confirm")).status_code == 405
    user.refresh_from_db()
    assert user.details_confirmed_at is None


def test_data_export_contains_own_records_and_no_secrets(client_logged_in, user, password):
    membership = MembershipFactory(user=user)
    other = MembershipFactory()
    response = client_logged_in.post(reverse("posti_accounts:export"))
    assert response.status_code == 200
    assert response["Content-Disposition"].startswith("attachment;")
    data = json.loads(response.content)
    assert data["account"]["email"] == user.email
    assert data["account"]["uuid"] == str(user.uuid)
    assert [m["business_id"] for m in data["memberships"]] == [membership.organization.business_id]
    assert data["legacy_accounts"] == []
    assert all(s["last_seen_at"] for s in data["sessions"])
    raw = response.content.decode()
    assert other.organization.business_id not in raw
    assert user.password not in raw and password not in raw
    assert AuditEvent.objects.filter(action="data.exported", target_user=user).exists()


def test_security_events_page_lists_only_own_events(client_logged_in, user):
    stranger = User.objects.create_user("stranger@example.fi")
    audit_event_record(actor=stranger, action="details.updated", target_user=stranger)
    audit_event_record(actor=user, action="details.confirmed", target_user=user)
    response = client_logged_in.get(reverse("posti_accounts:events"))
    assert response.status_code == 200
    events = list(response.context["page"])
    assert [e.target_user_id for e in events] == [user.pk]
