"""Admin privilege rules (issue 12, finding 2).

Rules:
- Only a superuser may change `is_staff`, `is_superuser`, `groups` or `user_permissions`. For
  anyone else those fields are not part of the change or add form, so a crafted POST that
  carries them changes nothing.
- Nobody may grant a permission (directly or through a group) they do not hold themselves.
- Staff who are not superusers cannot change, deactivate or delete staff or superuser accounts
  (their own included): they could otherwise lock out or take over a higher account.
- Staff with only the view permission can open a user's page but not change anything (403).
- Every privilege change and every activation change (change form or the deactivate action)
  writes an AuditEvent with the actor, the target and the old and new values, in the same
  transaction; deactivation also ends the user's sessions.
"""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Group, Permission
from django.contrib.sessions.models import Session
from django.core.exceptions import PermissionDenied
from django.test import Client
from django.urls import reverse

from posti_accounts.models import AuditEvent, User, UserSession
from tests.factories import UserFactory
from tests.security._admin_clients import admin_client, staff_user

pytestmark = pytest.mark.django_db

PRIVILEGE_FIELDS = {"is_staff", "is_superuser", "groups", "user_permissions"}


def _change_url(user) -> str:
    return reverse("admin:posti_accounts_user_change", args=[user.pk])


def _change_data(user, **overrides):
    data = {
        "first_name": user.first_name,
        "last_name": user.last_name,
        "phone": user.phone,
        "preferred_language": user.preferred_language,
        "is_active": "on",
    }
    data.update(overrides)
    return {k: v for k, v in data.items() if v is not None}


def _logged_in_elsewhere(user, password) -> Client:
    other = Client()
    other.post(reverse("account_login"), {"login": user.email, "password": password})
    assert other.session["_auth_user_id"] == str(user.pk)
    return other


@pytest.fixture
def operator(db):
    return staff_user(perms=("view_user", "change_user", "add_user"))


@pytest.fixture
def superuser(db):
    return staff_user(superuser=True)


def test_non_superuser_change_form_has_no_privilege_fields(client, operator, user):
    """A staff user with change_user sees no editable privilege field."""
    admin_client(client, operator)
    response = client.get(_change_url(user))
    assert response.status_code == 200
    fields = set(response.context["adminform"].form.fields)
    assert "first_name" in fields
    assert not fields & PRIVILEGE_FIELDS
    html = response.content.decode()
    for name in PRIVILEGE_FIELDS:
        assert f'name="{name}"' not in html


def test_non_superuser_crafted_post_grants_nothing(client, operator, user):
    """A POST that carries the privilege fields anyway leaves them unchanged."""
    admin_client(client, operator)
    group = Group.objects.create(name="admins")
    group.permissions.set(Permission.objects.all())
    data = _change_data(
        user,
        first_name="Renamed",
        is_staff="on",
        is_superuser="on",
        groups=[group.pk],
        user_permissions=list(Permission.objects.values_list("pk", flat=True)),
    )
    response = client.post(_change_url(user), data)
    assert response.status_code == 302
    user.refresh_from_db()
    assert user.first_name == "Renamed"  # the allowed part of the form did save
    assert not user.is_staff and not user.is_superuser
    assert not user.groups.exists() and not user.user_permissions.exists()
    assert not AuditEvent.objects.filter(action="user.privileges_changed").exists()


def test_non_superuser_cannot_make_themselves_superuser(client, operator):
    """Their own (staff) account is not theirs to change in the admin: 403, nothing changes."""
    admin_client(client, operator)
    data = _change_data(operator, is_staff="on", is_superuser="on")
    response = client.post(_change_url(operator), data)
    assert response.status_code == 403
    operator.refresh_from_db()
    assert not operator.is_superuser
    assert set(operator.user_permissions.values_list("codename", flat=True)) == {
        "view_user",
        "change_user",
        "add_user",
    }


def test_non_superuser_cannot_change_or_deactivate_a_superuser(client, operator, superuser):
    admin_client(client, operator)
    response = client.post(_change_url(superuser), _change_data(superuser, is_active=None))
    assert response.status_code == 403
    client.post(
        reverse("admin:posti_accounts_user_changelist"),
        {"action": "deactivate_users", "_selected_action": [superuser.pk]},
    )
    superuser.refresh_from_db()
    assert superuser.is_active and superuser.is_superuser
    assert not AuditEvent.objects.filter(action="user.deactivated").exists()


def test_non_superuser_add_form_cannot_create_staff(client, operator):
    admin_client(client, operator)
    response = client.post(
        reverse("admin:posti_accounts_user_add"),
        {"email": "new@example.fi", "preferred_language": "fi", "is_staff": "on"},
    )
    assert response.status_code == 302
    assert not User.objects.get(email="new@example.fi").is_staff


def test_superuser_add_form_creates_staff_with_audit(client, superuser):
    admin_client(client, superuser)
    response = client.post(
        reverse("admin:posti_accounts_user_add"),
        {"email": "staff@example.fi", "preferred_language": "fi", "is_staff": "on"},
    )
    assert response.status_code == 302
    created = User.objects.get(email="staff@example.fi")
    assert created.is_staff
    event = AuditEvent.objects.get(action="user.privileges_changed", target_user=created)
    assert event.actor == superuser
    assert event.details == {"old": {"is_staff": False}, "new": {"is_staff": True}}


def test_superuser_changes_privileges_with_audit(client, superuser, user):
    """A superuser may grant staff status, groups and permissions; the event holds old and
    new values."""
    admin_client(client, superuser)
    group = Group.objects.create(name="campaigners")
    perm = Permission.objects.get(codename="view_auditevent")
    data = _change_data(user, is_staff="on", groups=[group.pk], user_permissions=[perm.pk])
    response = client.post(_change_url(user), data)
    assert response.status_code == 302, response.content[:3000]
    user.refresh_from_db()
    assert user.is_staff and not user.is_superuser
    assert list(user.groups.all()) == [group]
    assert list(user.user_permissions.all()) == [perm]
    event = AuditEvent.objects.get(action="user.privileges_changed", target_user=user)
    assert event.actor == superuser
    assert event.details["old"] == {"is_staff": False, "groups": [], "user_permissions": []}
    assert event.details["new"] == {
        "is_staff": True,
        "groups": ["campaigners"],
        "user_permissions": ["posti_accounts.view_auditevent"],
    }


def test_superuser_revokes_superuser_with_audit(client, superuser):
    admin_client(client, superuser)
    other = staff_user(superuser=True)
    response = client.post(_change_url(other), _change_data(other, is_staff="on"))
    assert response.status_code == 302
    other.refresh_from_db()
    assert other.is_staff and not other.is_superuser
    event = AuditEvent.objects.get(action="user.privileges_changed", target_user=other)
    assert event.details == {"old": {"is_superuser": True}, "new": {"is_superuser": False}}


def test_service_refuses_non_superuser_and_unheld_permissions(operator, user):
    """The rule holds in the service too, whoever calls it."""
    from posti_accounts.privileges import user_privileges_change

    perm = Permission.objects.get(codename="delete_user")
    with pytest.raises(PermissionDenied):
        user_privileges_change(user=user, actor=operator, user_permissions=[perm])
    with pytest.raises(PermissionDenied):
        user_privileges_change(user=user, actor=operator, is_staff=True)
    user.refresh_from_db()
    assert not user.is_staff and not user.user_permissions.exists()
    assert not AuditEvent.objects.filter(action="user.privileges_changed").exists()


def test_view_only_staff_can_view_but_not_change(client, user):
    """A real staff user holding only view_user: the page opens read-only, a POST is 403,
    and the bulk actions are not available."""
    viewer = staff_user(perms=("view_user",))
    admin_client(client, viewer)
    response = client.get(_change_url(user))
    assert response.status_code == 200
    assert not response.context["adminform"].form.fields
    assert 'name="first_name"' not in response.content.decode()
    response = client.post(_change_url(user), _change_data(user, first_name="X", is_active=None))
    assert response.status_code == 403
    for action in ("deactivate_users", "twofactor_reset"):
        client.post(
            reverse("admin:posti_accounts_user_changelist"),
            {"action": action, "_selected_action": [user.pk]},
        )
    user.refresh_from_db()
    assert user.is_active and user.first_name != "X"
    assert (
        not AuditEvent.objects.filter(actor=viewer)
        .exclude(
            action__in=["2fa.enabled", "access.denied"]  # refusals are recorded
        )
        .exists()
    )
    assert AuditEvent.objects.filter(actor=viewer, action="access.denied", details__status=403)


def test_deactivation_in_change_form_is_audited_and_ends_sessions(client, operator, password):
    target = UserFactory(password=password)
    elsewhere = _logged_in_elsewhere(target, password)
    key = elsewhere.session.session_key
    admin_client(client, operator)
    response = client.post(_change_url(target), _change_data(target, is_active=None))
    assert response.status_code == 302
    target.refresh_from_db()
    assert not target.is_active
    event = AuditEvent.objects.get(action="user.deactivated", target_user=target)
    assert event.actor == operator
    assert event.details == {"old": {"is_active": True}, "new": {"is_active": False}}
    assert not Session.objects.filter(session_key=key).exists()
    assert not UserSession.objects.filter(user=target).exists()

    response = client.post(_change_url(target), _change_data(target))
    target.refresh_from_db()
    assert target.is_active
    event = AuditEvent.objects.get(action="user.reactivated", target_user=target)
    assert event.details == {"old": {"is_active": False}, "new": {"is_active": True}}


def test_deactivate_action_audits_each_user_and_ends_sessions(client, operator, password):
    first, second = UserFactory(password=password), UserFactory(password=password)
    sessions = [_logged_in_elsewhere(u, password).session.session_key for u in (first, second)]
    already = UserFactory(is_active=False)
    admin_client(client, operator)
    response = client.post(
        reverse("admin:posti_accounts_user_changelist"),
        {"action": "deactivate_users", "_selected_action": [first.pk, second.pk, already.pk]},
    )
    assert response.status_code == 302
    assert not User.objects.filter(pk__in=[first.pk, second.pk], is_active=True).exists()
    events = AuditEvent.objects.filter(action="user.deactivated")
    assert sorted(events.values_list("target_user_id", flat=True)) == sorted([first.pk, second.pk])
    assert all(e.actor == operator for e in events)
    assert not Session.objects.filter(session_key__in=sessions).exists()
