"""Main-user pages as people read them: names instead of codes, sentences in the audit trail,
plural forms, and a confirmation step (without JavaScript) before removing or cancelling."""

from __future__ import annotations

import re

import pytest
from django.urls import reverse

from organizations import services
from organizations.models import Invitation, Membership
from organizations.services import InviteRow


@pytest.fixture
def main_client(client, org):
    client.force_login(org.main_user)
    return client


def _text(response) -> str:
    html = response.content.decode()
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


def _invite(org, email, codes=("lahetykset",)):
    services.invitations_bulk_create(
        organization=org,
        rows=[InviteRow(email=email, services=codes)],
        actor=org.main_user,
    )
    return Invitation.objects.get(email=email)


def test_members_and_invitations_show_service_names(main_client, org, add_member, eservices):
    add_member(org, services_=["lahetykset", "seuranta"])
    _invite(org, "kutsuttu@example.fi", ("seuranta",))
    members = _text(main_client.get(reverse("organizations:detail", args=[org.pk])))
    assert "lahetykset en, seuranta en" in members or "lahetykset fi, seuranta fi" in members
    invitations = _text(main_client.get(reverse("organizations:invitations", args=[org.pk])))
    assert "seuranta fi" in invitations
    assert not re.search(r"seuranta(?! (fi|sv|en))", invitations)


def test_audit_trail_reads_as_sentences(main_client, org, add_member, eservices):
    member = add_member(org, first_name="Bertil", last_name="Berg")
    services.membership_services_set(
        membership=member, services=["lahetykset"], actor=org.main_user
    )
    services.membership_remove(membership=member, actor=org.main_user)
    _invite(org, "kutsuttu@example.fi")
    org.main_user.preferred_language = "en"
    org.main_user.save(update_fields=["preferred_language"])
    response = main_client.get(reverse("organizations:audit", args=[org.pk]))
    text = _text(response)
    actor = org.main_user.display_name
    assert f"{actor} removed Bertil Berg from the organization." in text
    assert f"{actor} changed the e-service access of Bertil Berg." in text
    assert "Granted: lahetykset fi" in text or "Granted: lahetykset en" in text
    assert f"{actor} invited kutsuttu@example.fi." in text
    for code in ("membership.removed", "invitation_id", "services: [", "['lahetykset']"):
        assert code not in text


def test_audit_trail_in_finnish(main_client, org, add_member):
    member = add_member(org, first_name="Bertil", last_name="Berg")
    services.membership_remove(membership=member, actor=org.main_user)
    org.main_user.preferred_language = "fi"
    org.main_user.save(update_fields=["preferred_language"])
    text = _text(main_client.get(reverse("organizations:audit", args=[org.pk])))
    assert "poisti henkilön Bertil Berg organisaatiosta." in text


def test_invite_message_uses_plural_forms(main_client, org):
    url = reverse("organizations:invite", args=[org.pk])
    response = main_client.post(url, {"emails": "yksi@example.fi", "role": "member"}, follow=True)
    assert "1 kutsu lähetetty." in _text(response)
    response = main_client.post(
        url, {"emails": "kaksi@example.fi\nkolme@example.fi", "role": "member"}, follow=True
    )
    assert "2 kutsua lähetetty." in _text(response)


def test_remove_member_asks_for_confirmation_first(main_client, org, add_member):
    member = add_member(org, first_name="Bertil", last_name="Berg")
    detail = main_client.get(reverse("organizations:member", args=[org.pk, member.pk]))
    url = reverse("organizations:member_remove", args=[org.pk, member.pk])
    html = detail.content.decode()
    assert f'href="{url}"' in html
    assert member.user.email in html.split(f'href="{url}"')[1].split("</a>")[0]
    confirm = main_client.get(url)
    assert confirm.status_code == 200
    page = confirm.content.decode()
    assert f'<form method="post" action="{url}"' in page
    assert "Bertil Berg" in page and member.user.email in page
    member.refresh_from_db()
    assert member.status == Membership.Status.ACTIVE
    main_client.post(url)
    member.refresh_from_db()
    assert member.status == Membership.Status.REMOVED


def test_cancel_invitation_asks_for_confirmation_first(main_client, org):
    invitation = _invite(org, "peruttava@example.fi", ())
    listing = main_client.get(reverse("organizations:invitations", args=[org.pk])).content.decode()
    url = reverse("organizations:invitation_revoke", args=[org.pk, invitation.pk])
    link = listing.split(f'href="{url}"')[1].split("</a>")[0]
    assert "peruttava@example.fi" in link
    resend = reverse("organizations:invitation_resend", args=[org.pk, invitation.pk])
    assert "peruttava@example.fi" in listing.split(f'action="{resend}"')[1].split("</button>")[0]
    confirm = main_client.get(url)
    assert confirm.status_code == 200
    assert f'<form method="post" action="{url}"' in confirm.content.decode()
    invitation.refresh_from_db()
    assert invitation.revoked_at is None
    main_client.post(url)
    invitation.refresh_from_db()
    assert invitation.revoked_at is not None


def test_confirmation_pages_keep_tenancy(client, org, add_member, make_user):
    member = add_member(org)
    invitation = _invite(org, "vieras@example.fi", ())
    client.force_login(make_user("outsider@example.fi"))
    assert (
        client.get(reverse("organizations:member_remove", args=[org.pk, member.pk])).status_code
        == 404
    )
    url = reverse("organizations:invitation_revoke", args=[org.pk, invitation.pk])
    assert client.get(url).status_code == 404


def test_sub_navigation_marks_the_current_page(main_client, org):
    for name in ("detail", "invite", "invitations", "audit"):
        url = reverse(f"organizations:{name}", args=[org.pk])
        html = main_client.get(url).content.decode()
        nav = html.split('class="org-nav"', 1)[1].split("</nav>", 1)[0]
        assert re.findall(r'<a href="([^"]+)" aria-current="page">', nav) == [url], name


def test_admin_cancel_action_uses_plural_forms(admin_client, admin_user, org, settings):
    from django.contrib.messages import get_messages

    settings.ADMIN_REQUIRE_2FA = False
    admin_user.preferred_language = "fi"
    admin_user.save(update_fields=["preferred_language"])
    invitation = _invite(org, "peru@example.fi", ())
    response = admin_client.post(
        reverse("admin:organizations_invitation_changelist"),
        {"action": "revoke_action", "_selected_action": [invitation.pk]},
    )
    assert [str(m) for m in get_messages(response.wsgi_request)] == ["1 kutsu peruttu."]
