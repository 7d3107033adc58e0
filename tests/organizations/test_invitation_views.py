from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.core import mail
from django.urls import reverse
from django.utils import timezone

from organizations import services
from organizations.models import Invitation, Membership


@pytest.fixture
def invitation(org, eservices):
    return services.membership_invite(
        organization=org, email="newbie@example.fi", services=["seuranta"], actor=org.main_user
    )


def _url(token):
    return reverse("organizations:invitation_accept", args=[token])


def test_anonymous_sees_login_and_prefilled_signup_links(client, invitation):
    response = client.get(_url(invitation.token))
    assert response.status_code == 200
    signup_url = response.context["signup_url"]
    assert "email=newbie%40example.fi" in signup_url
    assert client.session[services.PENDING_INVITATION_SESSION_KEY] == invitation.token_hash
    assert invitation.token not in str(dict(client.session))
    signup = client.get(signup_url)
    assert signup.status_code == 200
    assert signup.context["form"].initial.get("email") == "newbie@example.fi"


def test_signup_then_verify_lands_in_organization(
    client, invitation, django_capture_on_commit_callbacks
):
    client.get(_url(invitation.token))
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            reverse("account_signup") + "?" + f"next={_url(invitation.token)}",
            {
                "email": "newbie@example.fi",
                "password1": "Pitka-ja-vahva-salasana-99",
                "password2": "Pitka-ja-vahva-salasana-99",
            },
        )
    assert response.status_code in (200, 302), response.content[:500]
    assert not Membership.objects.filter(user__email="newbie@example.fi").exists()
    link = next(
        m
        for m in re.findall(r"https?://\S+", "\n".join(x.body for x in mail.outbox))
        if "confirm-email" in m
    )
    path = re.sub(r"^https?://[^/]+", "", link)
    with django_capture_on_commit_callbacks(execute=True):
        client.post(path)
    membership = Membership.objects.get(user__email="newbie@example.fi")
    assert membership.organization_id == invitation.organization_id
    assert membership.status == Membership.Status.ACTIVE
    assert list(membership.services.values_list("code", flat=True)) == ["seuranta"]
    invitation.refresh_from_db()
    assert invitation.accepted_at is not None


def test_logged_in_invitee_accepts_with_post(client, invitation, make_user):
    user = make_user("newbie@example.fi")
    client.force_login(user)
    response = client.get(_url(invitation.token))
    assert response.status_code == 200 and not response.context["wrong_user"]
    assert not Membership.objects.filter(user=user).exists()  # GET changes nothing
    response = client.post(_url(invitation.token))
    assert response.status_code == 302
    assert response["Location"] == reverse(
        "organizations:detail", args=[invitation.organization_id]
    )
    assert Membership.objects.get(user=user).organization_id == invitation.organization_id
    response = client.get(_url(invitation.token))
    assert response.status_code == 410
    assert str(services.MSG_INVITATION_USED) in response.content.decode()


def test_stranger_with_link_is_refused(client, invitation, make_user):
    stranger = make_user("stranger@example.fi")
    client.force_login(stranger)
    response = client.get(_url(invitation.token))
    assert response.status_code == 403
    assert str(services.MSG_INVITATION_OTHER_EMAIL) in response.content.decode()
    client.post(_url(invitation.token))
    assert not Membership.objects.filter(user=stranger).exists()
    invitation.refresh_from_db()
    assert invitation.accepted_at is None


def test_expired_revoked_and_bogus_links(client, invitation, org):
    Invitation.objects.filter(pk=invitation.pk).update(expires_at=timezone.now() - timedelta(1))
    response = client.get(_url(invitation.token))
    assert response.status_code == 410
    assert str(services.MSG_INVITATION_EXPIRED) in response.content.decode()
    services.invitation_revoke(invitation=invitation, actor=org.main_user)
    response = client.get(_url(invitation.token))
    assert str(services.MSG_INVITATION_REVOKED) in response.content.decode()
    response = client.get(_url("x" * 43))
    assert response.status_code == 404
    assert str(services.MSG_INVITATION_INVALID) in response.content.decode()
    assert client.get(_url("x" * 500)).status_code == 404


def test_live_token_never_reaches_the_request_log(client, invitation, make_user, caplog):
    """Django logs the path of every 4xx answer; the invitation path holds a live token."""
    client.force_login(make_user("stranger@example.fi"))
    with caplog.at_level("DEBUG"):
        assert client.get(_url(invitation.token)).status_code == 403
        assert client.put(_url(invitation.token)).status_code == 405
        client.post(_url(invitation.token))
        client.get("/organizations/999999/")  # control: an ordinary 404 is logged
    assert "/organizations/999999/" in caplog.text
    assert invitation.token not in caplog.text
