"""The migration app's reactions to account events (posti_accounts.signals), connected in
MigrationConfig.ready."""

from __future__ import annotations

from posti_accounts import signals

from .services import legacy_credentials_discard


def on_password_changed(sender, *, user, request=None, **kwargs) -> None:
    """A new password replaces every old service password: drop the legacy hashes."""
    legacy_credentials_discard(user=user)


def connect() -> None:
    signals.password_changed.connect(on_password_changed, dispatch_uid="migration.password_changed")
