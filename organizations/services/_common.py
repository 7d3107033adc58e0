"""Messages and helpers shared by the organization services."""

from __future__ import annotations

import secrets
from collections.abc import Iterable
from datetime import timedelta

from django.conf import settings
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext_lazy as _

from kernel.errors import ApplicationError
from kernel.tokens import token_hash
from posti_accounts.emails import email_send
from posti_accounts.models import User

from ..models import EService, Invitation, Membership, Organization

MSG_LAST_MAIN_USER = _(
    "The organization must keep at least one main user. Make another member a main user first."
)
MSG_LAST_MAIN_USER_ACCOUNT = _(
    "This person is the last main user of %(organizations)s. Appoint another main user first."
)
MSG_BUSINESS_ID_TAKEN = _("An organization with this business ID already exists.")
MSG_ALREADY_MEMBER = _("This person is already a member of the organization.")
MSG_ALREADY_INVITED = _("This address already has an open invitation to the organization.")
MSG_INVALID_EMAIL = _("Enter a valid email address.")
MSG_INVALID_ROLE = _("Unknown role. Use main_user or member.")
MSG_ROLE_AMBIGUOUS = _(
    "The role “%(role)s” is not used here. Write main_user (manages the organization's "
    "members and invitations) or member."
)
MSG_UNKNOWN_SERVICE = _("Unknown e-service: %(services)s.")
MSG_TOO_MANY_ROWS = _("At most %(max)d addresses can be invited at once.")
MSG_NO_ROWS = _("Enter at least one email address.")
MSG_BULK_CONFLICT = _("Someone else changed the invitations at the same time. Try again.")
MSG_INVITATION_INVALID = _("This invitation link is not valid.")
MSG_INVITATION_EXPIRED = _("This invitation has expired. Ask the main user for a new one.")
MSG_INVITATION_REVOKED = _("This invitation has been cancelled.")
MSG_INVITATION_USED = _("This invitation has already been used.")
MSG_INVITATION_OTHER_EMAIL = _(
    "This invitation was sent to another email address. Log in with the address it was sent to."
)
MSG_EMAIL_NOT_VERIFIED = _("Verify your email address before accepting the invitation.")
MSG_ORGANIZATION_INACTIVE = _("The organization is not active.")
MSG_MEMBERSHIP_REMOVED = _("This person is no longer a member of the organization.")
MSG_NOT_OWN_MEMBERSHIP = _("You can only leave the organization yourself.")
MSG_HANDOVER_TARGET = _("Only an active member can be made a main user.")
MSG_HANDOVER_NOT_MAIN_USER = _("Only a main user can hand over the main user role.")
MSG_ALREADY_MAIN_USER = _("This person is already a main user.")
MSG_USER_INACTIVE = _("This user account is not active.")

BULK_INVITE_MAX_ROWS = 1000
PENDING_INVITATION_SESSION_KEY = "organizations.pending_invitation"

_AMBIGUOUS_ROLES = {"admin", "administrator", "ylläpitäjä", "administratör"}
ROLE_ALIASES = {
    "main_user": Membership.Role.MAIN_USER,
    "main user": Membership.Role.MAIN_USER,
    "mainuser": Membership.Role.MAIN_USER,
    "main-user": Membership.Role.MAIN_USER,
    "pääkäyttäjä": Membership.Role.MAIN_USER,
    "huvudanvändare": Membership.Role.MAIN_USER,
    "member": Membership.Role.MEMBER,
    "jäsen": Membership.Role.MEMBER,
    "käyttäjä": Membership.Role.MEMBER,
    "medlem": Membership.Role.MEMBER,
    "användare": Membership.Role.MEMBER,
    "": Membership.Role.MEMBER,
}


# --- helpers ----------------------------------------------------------------------------------


def _lock_organization(organization_id: int) -> Organization:
    return Organization.objects.select_for_update().get(pk=organization_id)


def _lock_membership(membership_id: int) -> Membership:
    return Membership.objects.select_for_update().select_related("user").get(pk=membership_id)


def _is_last_main_user(membership: Membership) -> bool:
    """Whether `membership` is an active main user and no other active main user exists.
    Call only with the organization row locked."""
    if not (
        membership.role == Membership.Role.MAIN_USER
        and membership.status == Membership.Status.ACTIVE
    ):
        return False
    others = (
        Membership.objects.filter(
            organization_id=membership.organization_id,
            role=Membership.Role.MAIN_USER,
            status=Membership.Status.ACTIVE,
            user__is_active=True,
        )
        .exclude(pk=membership.pk)
        .exists()
    )
    return not others


def role_normalize(value: str | None) -> str:
    key = (value or "").strip().lower()
    role = ROLE_ALIASES.get(key)
    if role is None and key in _AMBIGUOUS_ROLES:
        # A legacy "admin" may mean a main user or just a service admin: never guessed.
        raise ApplicationError(
            MSG_ROLE_AMBIGUOUS % {"role": (value or "").strip()}, code="invalid_role"
        )
    if role is None:
        raise ApplicationError(MSG_INVALID_ROLE, code="invalid_role")
    return str(role)


def eservices_resolve(services: Iterable[EService | str] | None) -> list[EService]:
    """EService objects for a mix of objects and codes; unknown/inactive codes are refused."""
    items = list(services or [])
    objects = [s for s in items if isinstance(s, EService)]
    codes = {str(s).strip() for s in items if not isinstance(s, EService) and str(s).strip()}
    if codes:
        found = list(EService.objects.filter(code__in=codes, is_active=True))
        missing = codes - {s.code for s in found}
        if missing:
            raise ApplicationError(
                MSG_UNKNOWN_SERVICE % {"services": ", ".join(sorted(missing))},
                code="unknown_service",
            )
        objects.extend(found)
    unique = {s.pk: s for s in objects}
    return sorted(unique.values(), key=lambda s: s.code)


def _site_url(path: str) -> str:
    return settings.SITE_URL.rstrip("/") + path


def _notify(*, user: User, name: str, organization: Organization, **context) -> None:
    """Email the affected user in their own language after the transaction commits."""
    email_send(
        to=user.email,
        template_prefix=f"organizations/email/{name}",
        context={
            "user_name": user.display_name,
            "organization_name": organization.name,
            "business_id": organization.business_id,
            "organizations_url": _site_url(reverse("organizations:list")),
            **context,
        },
        language=user.preferred_language or "fi",
    )


def _send_invitation_email(
    *, invitation: Invitation, token: str, language: str, inviter: User | None
) -> None:
    email_send(
        to=invitation.email,
        template_prefix="organizations/email/invitation",
        context={
            "organization_name": invitation.organization.name,
            "business_id": invitation.organization.business_id,
            "inviter_name": inviter.display_name if inviter else "",
            "role": invitation.role,
            "accept_url": _site_url(reverse("organizations:invitation_accept", args=[token])),
            "expires_at": invitation.expires_at,
        },
        language=language,
    )


def _new_token() -> tuple[str, str]:
    token = secrets.token_urlsafe(32)
    return token, token_hash(token)


def _expiry():
    return timezone.now() + timedelta(days=settings.INVITATION_EXPIRY_DAYS)


def _current_language() -> str:
    lang = (translation.get_language() or "fi")[:2]
    return lang if lang in {"fi", "sv", "en"} else "fi"
