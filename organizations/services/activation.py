"""Hook run when a user verifies their email address (DESIGN invariant 6)."""

from __future__ import annotations

from allauth.account.models import EmailAddress
from django.db import transaction
from django.http import HttpRequest
from django.utils import timezone

from kernel.errors import ApplicationError
from posti_accounts.audit import audit_events_bulk_record
from posti_accounts.models import AuditEvent, User

from ..models import Invitation, Membership
from ._common import (
    PENDING_INVITATION_SESSION_KEY,
)
from .invitations import _invitation_accept


@transaction.atomic
def memberships_activate_pending(*, user: User, request: HttpRequest | None = None) -> int:
    """Hook called by `posti_accounts.services.user_email_verified`: the user has proved their
    address, so memberships that came from legacy data become active (DESIGN invariant 6).
    Also accepts an invitation this browser was following when the user signed up."""
    verified = EmailAddress.objects.filter(user=user, email=user.email, verified=True).exists()
    if not verified:
        return 0
    pending = list(
        Membership.objects.select_for_update().filter(
            user=user, status=Membership.Status.PENDING, source=Membership.Source.LEGACY
        )
    )
    if pending:
        now = timezone.now()
        Membership.objects.filter(pk__in=[m.pk for m in pending]).update(
            status=Membership.Status.ACTIVE, updated_at=now
        )
        audit_events_bulk_record(
            [
                AuditEvent(
                    actor=user,
                    action="membership.activated",
                    target_user=user,
                    organization_id=m.organization_id,
                    details={"reason": "email_verified", "role": m.role},
                    created_at=now,
                )
                for m in pending
            ]
        )
    _accept_session_invitation(user=user, request=request)
    return len(pending)


def _accept_session_invitation(*, user: User, request: HttpRequest | None) -> None:
    session = getattr(request, "session", None)
    if session is None:
        return
    hashed = session.get(PENDING_INVITATION_SESSION_KEY)
    if not hashed:
        return
    invitation = Invitation.objects.filter(token_hash=hashed).first()
    if invitation is None or invitation.email.lower() != user.email:
        return
    try:
        with transaction.atomic():
            _invitation_accept(invitation_id=invitation.pk, user=user, request=request)
    except ApplicationError:
        return
    session.pop(PENDING_INVITATION_SESSION_KEY, None)
