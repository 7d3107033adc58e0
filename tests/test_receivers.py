"""Every account event has the receivers it must have, and each one runs.

A receiver that silently failed to connect (a typo in `receivers.py`, a missing
`AppConfig.ready`) would leave memberships pending forever or legacy hashes alive: these tests
name the receivers connected to each signal and prove the reaction happens.
"""

from __future__ import annotations

import weakref

import pytest

from kernel.errors import ApplicationError
from migration.models import LegacyAccount
from organizations.models import EService, Membership
from posti_accounts import signals
from posti_accounts.services import user_create, user_email_verified, user_password_changed
from tests.factories import OrganizationFactory


def _receiver_names(signal) -> list[str]:
    names = []
    for entry in signal.receivers:
        ref = entry[1]
        func = ref() if isinstance(ref, weakref.ReferenceType) else ref
        names.append(f"{func.__module__}.{func.__qualname__}")
    return sorted(names)


def test_receivers_connected_for_each_account_event():
    assert _receiver_names(signals.email_verified) == [
        "notifications.receivers.on_email_verified",
        "organizations.receivers.on_email_verified",
    ]
    assert _receiver_names(signals.password_changed) == ["migration.receivers.on_password_changed"]
    from anymail.signals import tracking

    assert _receiver_names(tracking) == ["notifications.receivers.on_email_tracking"]
    assert _receiver_names(signals.user_deactivation_requested) == [
        "organizations.receivers.on_user_deactivation_requested"
    ]


@pytest.mark.django_db
def test_email_verified_activates_pending_memberships():
    user = user_create(email="pending@example.fi", password="correct-horse-battery-42")
    org = OrganizationFactory()
    membership = Membership.objects.create(
        user=user,
        organization=org,
        status=Membership.Status.PENDING,
        source=Membership.Source.LEGACY,
    )
    user_email_verified(user=user, email=user.email)
    membership.refresh_from_db()
    assert membership.status == Membership.Status.ACTIVE


@pytest.mark.django_db
def test_password_changed_discards_legacy_hashes():
    user = user_create(email="legacy@example.fi", password="correct-horse-battery-42")
    service = EService.objects.create(
        code="vanha", name_fi="Vanha", name_sv="Gammal", name_en="Old"
    )
    account = LegacyAccount.objects.create(
        service=service,
        username="old",
        email="legacy@example.fi",
        password_hash="{SHA}abc",
        user=user,
        state=LegacyAccount.State.MERGED,
    )
    user_password_changed(user=user)
    account.refresh_from_db()
    assert account.password_hash == ""


@pytest.mark.django_db
def test_user_deactivation_requested_refuses_the_last_main_user():
    user = user_create(email="main@example.fi", password="correct-horse-battery-42")
    org = OrganizationFactory()
    Membership.objects.create(
        user=user, organization=org, role=Membership.Role.MAIN_USER, status="active"
    )
    with pytest.raises(ApplicationError) as exc:
        signals.user_deactivation_requested.send(sender=type(user), user=user)
    assert exc.value.code == "last_main_user"


@pytest.mark.django_db
def test_deactivation_service_itself_refuses_the_last_main_user():
    """The check and the update are one service call in one transaction (the organization
    rows stay locked until the user row is written), whatever the caller checked before."""
    from posti_accounts.models import AuditEvent, User
    from posti_accounts.privileges import user_active_set

    user = user_create(email="main@example.fi", password="correct-horse-battery-42")
    admin = User.objects.create_superuser(email="root@example.fi", password="x" * 16)
    org = OrganizationFactory()
    Membership.objects.create(
        user=user, organization=org, role=Membership.Role.MAIN_USER, status="active"
    )
    with pytest.raises(ApplicationError) as exc:
        user_active_set(user=user, active=False, actor=admin)
    assert exc.value.code == "last_main_user"
    user.refresh_from_db()
    assert user.is_active
    assert not AuditEvent.objects.filter(action="user.deactivated").exists()
