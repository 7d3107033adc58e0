"""Reads for single sign-on: which e-service a client is, who may sign in to it, and the
`organizations` claim."""

from __future__ import annotations

from typing import Any, NamedTuple

from django.utils.translation import gettext_lazy as _

from organizations.models import Membership
from organizations.selectors import memberships_for_user
from posti_accounts.models import User

from .models import RelyingParty

MSG_NOT_CONFIGURED = _(
    "This e-service has not been set up to use the Posti e-services login. "
    "Please contact the e-service's customer support."
)
MSG_SERVICE_INACTIVE = _("This e-service is not in use at the moment.")
MSG_NO_MEMBERSHIP = _(
    "You do not have access to %(service)s. It is used on behalf of an organization, and "
    "none of your organization memberships grants access to it. Ask a main user of your "
    "organization to grant you access, then try again."
)


class Refusal(NamedTuple):
    code: str
    message: str


def relying_party_get(*, client_id: str) -> RelyingParty | None:
    if not client_id or len(client_id) > 100:
        return None
    return (
        RelyingParty.objects.select_related("eservice", "application")
        .filter(application__client_id=client_id)
        .first()
    )


def user_has_eservice(*, user: User, eservice_id: int) -> bool:
    """Whether an active membership in an active organization grants the e-service."""
    return Membership.objects.filter(
        user=user,
        status=Membership.Status.ACTIVE,
        organization__is_active=True,
        services__id=eservice_id,
    ).exists()


def sso_access_refusal(*, user: User, relying_party: RelyingParty | None) -> Refusal | None:
    """Why `user` may not sign in to the client's e-service, or None when they may.

    The gate of the authorization endpoint and of the token endpoint (code and refresh), so a
    user who loses access also stops getting new tokens."""
    if relying_party is None:
        return Refusal("not_configured", str(MSG_NOT_CONFIGURED))
    eservice = relying_party.eservice
    if not eservice.is_active:
        return Refusal("service_inactive", str(MSG_SERVICE_INACTIVE))
    if not user.is_active:
        return Refusal("no_membership", str(MSG_NO_MEMBERSHIP % {"service": eservice.name}))
    if eservice.requires_membership and not user_has_eservice(user=user, eservice_id=eservice.pk):
        return Refusal("no_membership", str(MSG_NO_MEMBERSHIP % {"service": eservice.name}))
    return None


def organizations_claim(*, user: User) -> list[dict[str, Any]]:
    """The `organizations` claim: active memberships with their role and granted e-services
    (two queries, via the same selector as the portal's pages)."""
    return [
        {
            "business_id": m.organization.business_id,
            "name": m.organization.name,
            "role": m.role,
            "eservices": [s.code for s in m.services.all() if s.is_active],
        }
        for m in memberships_for_user(user=user)
        if m.status == Membership.Status.ACTIVE
    ]
