"""Staff decisions on the conflict review queue."""

from __future__ import annotations

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from kernel.errors import ApplicationError
from posti_accounts.audit import audit_event_record
from posti_accounts.models import User

from ..models import LegacyAccount
from .import_normalize import normalize_email

MSG_EMAIL_INVALID = _("Enter a valid email address.")
MSG_NOT_REVIEWABLE = _("Only imported or conflicting legacy accounts can be changed.")
_REVIEWABLE = (LegacyAccount.State.IMPORTED, LegacyAccount.State.CONFLICT)


@transaction.atomic
def legacy_account_fix_email(
    *, account: LegacyAccount, email: str, actor: User | None
) -> LegacyAccount:
    """Correct the email of a legacy account; the next plan classifies it again."""
    if account.state not in _REVIEWABLE:
        raise ApplicationError(MSG_NOT_REVIEWABLE, code="not_reviewable")
    normalized, valid = normalize_email(email)
    if not valid:
        raise ApplicationError(MSG_EMAIL_INVALID, code="email_invalid")
    old = account.email
    account.email, account.email_valid = normalized, True
    account.state, account.conflict_reason = LegacyAccount.State.IMPORTED, ""
    account.updated_at = timezone.now()
    account.save(update_fields=["email", "email_valid", "state", "conflict_reason", "updated_at"])
    audit_event_record(
        actor=actor,
        action="legacy.email_fixed",
        details={"account": str(account), "old_email": old, "new_email": normalized},
    )
    return account


@transaction.atomic
def legacy_accounts_drop(*, account_ids: list[int], actor: User | None) -> int:
    """Drop legacy accounts from the migration: never merged, their hash deleted."""
    count = LegacyAccount.objects.filter(pk__in=account_ids, state__in=_REVIEWABLE).update(
        state=LegacyAccount.State.DROPPED,
        password_hash="",
        hash_salt="",
        hash_wrapped=False,
        updated_at=timezone.now(),
    )
    audit_event_record(
        actor=actor, action="legacy.dropped", details={"accounts": count, "ids": account_ids[:100]}
    )
    return count
