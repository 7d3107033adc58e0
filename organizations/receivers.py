"""The organizations app's reactions to account events (posti_accounts.signals), connected in
OrganizationsConfig.ready."""

from __future__ import annotations

from posti_accounts import signals

from .services import memberships_activate_pending, user_deactivation_check


def on_email_verified(sender, *, user, request=None, **kwargs) -> None:
    """Memberships that waited for a verified address become active (DESIGN invariant 6)."""
    memberships_activate_pending(user=user, request=request)


def on_user_deactivation_requested(sender, *, user, **kwargs) -> None:
    """Refuse to deactivate the last active main user of an organization (invariant 2)."""
    user_deactivation_check(user=user)


def connect() -> None:
    signals.email_verified.connect(on_email_verified, dispatch_uid="organizations.email_verified")
    signals.user_deactivation_requested.connect(
        on_user_deactivation_requested, dispatch_uid="organizations.user_deactivation_requested"
    )
