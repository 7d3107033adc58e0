from __future__ import annotations

import pytest
from django.core import mail

from kernel.errors import ApplicationError
from organizations import services
from organizations.models import Membership
from organizations.services import MSG_LAST_MAIN_USER
from posti_accounts.models import AuditEvent
from tests.factories import OrganizationFactory


def _main(org):
    return Membership.objects.get(organization=org, user=org.main_user)


def test_organization_create_normalizes_business_id_and_audits(staff, make_user):
    main = make_user()
    organization = services.organization_create(
        name="Beta Ab", business_id="01120389", actor=staff, main_user=main
    )
    assert organization.business_id == "0112038-9"
    membership = Membership.objects.get(organization=organization)
    assert membership.user == main and membership.is_main_user
    assert membership.source == Membership.Source.ADMIN
    actions = set(
        AuditEvent.objects.filter(organization=organization).values_list("action", flat=True)
    )
    assert {"organization.created", "membership.added"} <= actions


@pytest.mark.parametrize(
    "business_id,code",
    [("0112038-8", "business_id_check"), ("12-3", "business_id_format")],
)
def test_organization_create_refuses_invalid_business_id(staff, business_id, code):
    with pytest.raises(ApplicationError) as exc:
        services.organization_create(name="X", business_id=business_id, actor=staff)
    assert exc.value.code == code


def test_organization_create_refuses_duplicate_business_id(staff):
    services.organization_create(name="A", business_id="0112038-9", actor=staff)
    with pytest.raises(ApplicationError) as exc:
        services.organization_create(name="B", business_id="01120389", actor=staff)
    assert exc.value.code == "business_id_taken"


def test_membership_create_never_duplicates(org, add_member, staff):
    m = add_member(org)
    with pytest.raises(ApplicationError) as exc:
        services.membership_create(organization=org, user=m.user, actor=staff)
    assert exc.value.code == "already_member"
    assert Membership.objects.filter(organization=org, user=m.user).count() == 1


def test_last_main_user_cannot_be_removed_demoted_or_leave(org):
    main = _main(org)
    with pytest.raises(ApplicationError) as exc:
        services.membership_remove(membership=main, actor=org.main_user)
    assert exc.value.code == "last_main_user"
    assert exc.value.message == MSG_LAST_MAIN_USER
    with pytest.raises(ApplicationError):
        services.membership_role_change(membership=main, role="member", actor=org.main_user)
    with pytest.raises(ApplicationError):
        services.membership_leave(membership=main, actor=org.main_user)
    main.refresh_from_db()
    assert main.is_main_user


def test_main_user_can_leave_when_another_exists(org, add_member):
    other = add_member(org, role=Membership.Role.MAIN_USER)
    services.membership_leave(membership=_main(org), actor=org.main_user)
    assert _main(org).status == Membership.Status.REMOVED
    # now `other` is the last one
    with pytest.raises(ApplicationError):
        services.membership_remove(membership=other, actor=other.user)


def test_inactive_main_user_does_not_count(org, add_member):
    other = add_member(org, role=Membership.Role.MAIN_USER)
    other.user.is_active = False
    other.user.save(update_fields=["is_active"])
    with pytest.raises(ApplicationError):
        services.membership_remove(membership=_main(org), actor=org.main_user)


def test_role_change_audits_and_emails_in_users_language(
    org, add_member, django_capture_on_commit_callbacks
):
    m = add_member(org, preferred_language="sv")
    with django_capture_on_commit_callbacks(execute=True):
        services.membership_role_change(membership=m, role="main_user", actor=org.main_user)
    m.refresh_from_db()
    assert m.role == Membership.Role.MAIN_USER
    event = AuditEvent.objects.get(action="membership.role_changed", target_user=m.user)
    assert event.actor == org.main_user and event.organization == org
    assert event.details == {"from": "member", "to": "main_user"}
    assert len(mail.outbox) == 1 and mail.outbox[0].to == [m.user.email]
    assert mail.outbox[0].subject == "Din roll i Alpha Oy har ändrats"


def test_removed_member_gets_email_and_loses_services(
    org, add_member, eservices, django_capture_on_commit_callbacks
):
    m = add_member(org, services_=["laskutus"])
    with django_capture_on_commit_callbacks(execute=True):
        services.membership_remove(membership=m, actor=org.main_user)
    m.refresh_from_db()
    assert m.status == Membership.Status.REMOVED
    assert m.services.count() == 0
    assert [e.to for e in mail.outbox] == [[m.user.email]]
    event = AuditEvent.objects.get(action="membership.removed")
    assert event.details["services"] == ["laskutus"]
    with pytest.raises(ApplicationError) as exc:
        services.membership_remove(membership=m, actor=org.main_user)
    assert exc.value.code == "membership_removed"


def test_added_email_is_sent(org, make_user, staff, django_capture_on_commit_callbacks):
    user = make_user(preferred_language="fi")
    with django_capture_on_commit_callbacks(execute=True):
        services.membership_create(organization=org, user=user, actor=staff)
    assert len(mail.outbox) == 1
    assert mail.outbox[0].subject == "Sinut lisättiin organisaatioon Alpha Oy"


def test_services_set_grants_and_revokes_with_audit(org, add_member, eservices):
    m = add_member(org, services_=["laskutus"])
    result = services.membership_services_set(
        membership=m, services=["seuranta", "lahetykset"], actor=org.main_user
    )
    assert [s.code for s in result] == ["lahetykset", "seuranta"]
    assert set(m.services.values_list("code", flat=True)) == {"lahetykset", "seuranta"}
    event = AuditEvent.objects.get(action="membership.services_changed")
    assert event.details == {"granted": ["lahetykset", "seuranta"], "revoked": ["laskutus"]}
    with pytest.raises(ApplicationError) as exc:
        services.membership_services_set(membership=m, services=["nope"], actor=org.main_user)
    assert exc.value.code == "unknown_service"


def test_handover_with_step_down(org, add_member):
    m = add_member(org)
    services.membership_handover(membership=m, actor=org.main_user, step_down=True)
    m.refresh_from_db()
    assert m.is_main_user
    assert _main(org).role == Membership.Role.MEMBER
    assert AuditEvent.objects.filter(action="membership.handover", target_user=m.user).exists()


def test_handover_requires_actor_main_user_and_active_target(org, add_member):
    member = add_member(org)
    other = add_member(org)
    with pytest.raises(ApplicationError) as exc:
        services.membership_handover(membership=other, actor=member.user)
    assert exc.value.code == "not_main_user"
    services.membership_remove(membership=other, actor=org.main_user)
    with pytest.raises(ApplicationError) as exc:
        services.membership_handover(membership=other, actor=org.main_user)
    assert exc.value.code == "handover_target_inactive"


def test_leave_only_own_membership(org, add_member):
    a = add_member(org)
    b = add_member(org)
    with pytest.raises(ApplicationError) as exc:
        services.membership_leave(membership=a, actor=b.user)
    assert exc.value.code == "not_own_membership"
    services.membership_leave(membership=a, actor=a.user)
    a.refresh_from_db()
    assert a.status == Membership.Status.REMOVED
    assert AuditEvent.objects.filter(action="membership.left", actor=a.user).exists()


def test_removed_member_can_be_added_again_without_second_row(org, add_member, staff):
    m = add_member(org)
    services.membership_remove(membership=m, actor=org.main_user)
    again = services.membership_create(organization=org, user=m.user, actor=staff)
    assert again.pk == m.pk and again.status == Membership.Status.ACTIVE


def test_main_user_appoint_for_orphan_org(staff, make_user):
    from organizations.selectors import organizations_without_main_user

    orphan = OrganizationFactory()
    assert orphan in organizations_without_main_user()
    user = make_user()
    services.membership_create(
        organization=orphan,
        user=user,
        actor=staff,
        status=Membership.Status.PENDING,
        source=Membership.Source.LEGACY,
    )
    m = services.main_user_appoint(organization=orphan, user=user, actor=staff)
    assert m.is_main_user
    assert orphan not in organizations_without_main_user()
    assert AuditEvent.objects.filter(action="membership.main_user_appointed", actor=staff).exists()


def test_appointing_unverified_legacy_member_waits_for_email_verification(staff, make_user):
    """Invariant 6: legacy access needs a verified email, even when staff appoint."""
    from organizations.selectors import organizations_without_main_user
    from posti_accounts.services import user_email_verified

    orphan = OrganizationFactory()
    user = make_user(verified=False)
    services.membership_create(
        organization=orphan,
        user=user,
        actor=staff,
        status=Membership.Status.PENDING,
        source=Membership.Source.LEGACY,
    )
    m = services.main_user_appoint(organization=orphan, user=user, actor=staff)
    m.refresh_from_db()
    assert (m.role, m.status) == (Membership.Role.MAIN_USER, Membership.Status.PENDING)
    assert orphan in organizations_without_main_user()
    user_email_verified(user=user, email=user.email)
    m.refresh_from_db()
    assert m.is_main_user
    assert orphan not in organizations_without_main_user()


def test_user_deactivation_check(org, add_member):
    with pytest.raises(ApplicationError) as exc:
        services.user_deactivation_check(user=org.main_user)
    assert exc.value.code == "last_main_user"
    assert exc.value.extra["organization_ids"] == [org.pk]
    member = add_member(org)
    services.user_deactivation_check(user=member.user)  # a plain member is fine
    add_member(org, role=Membership.Role.MAIN_USER)
    services.user_deactivation_check(user=org.main_user)  # no longer the last one


def test_user_deactivation_check_ignores_inactive_org(org):
    with pytest.raises(ApplicationError):
        services.user_deactivation_check(user=org.main_user)
    org.is_active = False
    org.save(update_fields=["is_active"])
    assert services.user_deactivation_check(user=org.main_user) is None


def test_legacy_memberships_activate_on_email_verification(staff, make_user):
    from posti_accounts.services import user_email_verified

    user = make_user(verified=False)
    a, b = OrganizationFactory(), OrganizationFactory()
    for o in (a, b):
        services.membership_create(
            organization=o,
            user=user,
            actor=staff,
            status=Membership.Status.PENDING,
            source=Membership.Source.LEGACY,
        )
    other = make_user()
    invited = services.membership_create(
        organization=a,
        user=other,
        actor=staff,
        status=Membership.Status.PENDING,
        source=Membership.Source.INVITATION,
    )
    assert services.memberships_activate_pending(user=user) == 0  # not verified yet
    user_email_verified(user=user, email=user.email)
    assert set(Membership.objects.filter(user=user).values_list("status", flat=True)) == {"active"}
    assert AuditEvent.objects.filter(action="membership.activated", target_user=user).count() == 2
    invited.refresh_from_db()
    assert invited.status == Membership.Status.PENDING  # other users untouched
