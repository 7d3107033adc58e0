"""Admin: login through allauth, staff need 2FA, deactivation guarded by the org hook."""

from __future__ import annotations

import pytest
from allauth.account.models import EmailAddress
from django.urls import reverse

from posti_accounts import twofactor
from posti_accounts.models import AuditEvent, User
from tests.factories import MembershipFactory, UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff(db, password):
    return UserFactory(password=password, is_staff=True, is_superuser=True)


def _verified_admin_client(client, staff):
    from django_otp import DEVICE_ID_SESSION_KEY
    from django_otp.oath import totp

    device = twofactor.totp_setup_start(user=staff).device
    code = f"{totp(device.bin_key, step=device.step, t0=device.t0, digits=device.digits):06d}"
    twofactor.totp_setup_confirm(user=staff, code=code)
    device.refresh_from_db()
    client.force_login(staff)
    session = client.session
    session[DEVICE_ID_SESSION_KEY] = device.persistent_id
    session.save()
    return client


def test_admin_login_goes_through_allauth(client):
    response = client.get("/admin/login/?next=/admin/")
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("account_login"))
    response = client.get("/admin/")
    assert response["Location"].startswith("/admin/login/")


def test_staff_without_2fa_cannot_use_admin(client, staff):
    client.force_login(staff)
    response = client.get("/admin/")
    assert response.status_code == 302
    assert response["Location"] == reverse("posti_accounts:twofactor_setup")


def test_staff_with_2fa_but_unverified_session_must_log_in_again(client, staff):
    device = twofactor.totp_setup_start(user=staff).device
    from django_otp.oath import totp

    twofactor.totp_setup_confirm(user=staff, code=f"{totp(device.bin_key):06d}")
    client.force_login(staff)
    response = client.get("/admin/")
    assert response["Location"].startswith(reverse("account_login"))
    assert "_auth_user_id" not in client.session


def test_staff_with_verified_2fa_uses_admin(client, staff):
    _verified_admin_client(client, staff)
    assert client.get("/admin/").status_code == 200
    response = client.get(reverse("admin:posti_accounts_user_changelist") + "?q=example")
    assert response.status_code == 200


def test_2fa_requirement_can_be_switched_off(client, staff, settings):
    settings.ADMIN_REQUIRE_2FA = False
    client.force_login(staff)
    assert client.get("/admin/").status_code == 200


def test_non_staff_gets_403_on_admin_login(client, user):
    client.force_login(user)
    assert client.get("/admin/login/").status_code == 403


def test_admin_add_user_uses_service(client, staff):
    _verified_admin_client(client, staff)
    response = client.post(
        reverse("admin:posti_accounts_user_add"),
        {
            "email": "Lisatty@Example.fi",
            "first_name": "Li",
            "last_name": "Sä",
            "phone": "",
            "preferred_language": "sv",
        },
    )
    assert response.status_code == 302, response.content[:2000]
    user = User.objects.get(email="lisatty@example.fi")
    assert EmailAddress.objects.filter(user=user, email=user.email, primary=True).exists()
    assert AuditEvent.objects.filter(action="user.created", target_user=user, actor=staff).exists()


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


def test_deactivating_last_main_user_is_refused(client, staff):
    _verified_admin_client(client, staff)
    membership = MembershipFactory(role="main_user")
    target = membership.user
    url = reverse("admin:posti_accounts_user_change", args=[target.pk])
    response = client.post(url, _change_data(target, is_active=None))
    assert response.status_code == 200  # form shown again with the error
    target.refresh_from_db()
    assert target.is_active
    assert response.context["adminform"].form.non_field_errors()


def test_deactivating_ordinary_user_works(client, staff, user):
    _verified_admin_client(client, staff)
    url = reverse("admin:posti_accounts_user_change", args=[user.pk])
    response = client.post(url, _change_data(user, is_active=None))
    assert response.status_code == 302
    user.refresh_from_db()
    assert not user.is_active


def test_deleting_last_main_user_is_refused(client, staff):
    _verified_admin_client(client, staff)
    target = MembershipFactory(role="main_user").user
    url = reverse("admin:posti_accounts_user_delete", args=[target.pk])
    response = client.post(url, {"post": "yes"})
    assert response.status_code == 302
    assert User.objects.filter(pk=target.pk).exists()
    response = client.post(
        reverse("admin:posti_accounts_user_changelist"),
        {"action": "delete_selected", "_selected_action": [target.pk], "post": "yes"},
    )
    assert User.objects.filter(pk=target.pk).exists()


def test_audit_events_are_read_only(client, staff):
    _verified_admin_client(client, staff)
    assert client.get(reverse("admin:posti_accounts_auditevent_changelist")).status_code == 200
    assert client.get("/admin/posti_accounts/auditevent/add/").status_code == 403


def test_staff_logging_in_with_2fa_can_use_admin(client, staff, password):
    from django_otp.oath import totp

    device = twofactor.totp_setup_start(user=staff).device
    # Set up with the previous step's code so that the current one is still unused.
    twofactor.totp_setup_confirm(user=staff, code=f"{totp(device.bin_key, drift=-1):06d}")
    device.refresh_from_db()
    response = client.get("/admin/")
    login_url = client.get(response["Location"])["Location"]
    assert login_url.startswith(reverse("account_login"))
    response = client.post(login_url, {"login": staff.email, "password": password})
    assert response["Location"] == reverse("posti_accounts:twofactor_authenticate")
    response = client.post(response["Location"], {"code": f"{totp(device.bin_key):06d}"})
    assert response["Location"] == "/admin/"
    assert client.get("/admin/").status_code == 200


@pytest.mark.parametrize("count", [5, 60])
def test_audit_event_changelist_query_count(client, staff, count, django_assert_max_num_queries):
    from posti_accounts.audit import audit_event_record

    _verified_admin_client(client, staff)
    for i in range(count):
        other = UserFactory(email=f"audit{i}-{count}@example.fi")
        audit_event_record(actor=staff, action="test.event", target_user=other, details={})
    url = reverse("admin:posti_accounts_auditevent_changelist")
    client.get(url)
    with django_assert_max_num_queries(14):
        response = client.get(url)
    assert response.status_code == 200
    assert response.content.decode().count("test.event") >= min(count, 100)
