"""Legacy passwords: wrapping weak hashes, legacy login, discarding them (cut-over retires
them: `cutover`)."""

from __future__ import annotations

from django.db import transaction
from django.db.models import Q
from django.http import HttpRequest
from django.utils import timezone

from posti_accounts.audit import audit_event_record
from posti_accounts.models import User, UserManager

from .. import hashes
from ..models import LegacyAccount


def _unwrapped_weak() -> Q:
    return Q(hash_wrapped=False, hash_scheme__in=hashes.WEAK_SCHEMES) & ~Q(password_hash="")


def legacy_hashes_pending_ranges(*, batch_size: int) -> list[tuple[int, int]]:
    """Id ranges of accounts whose weak hash still needs wrapping, `batch_size` rows each."""
    ids = (
        LegacyAccount.objects.filter(_unwrapped_weak()).order_by("id").values_list("id", flat=True)
    )
    ranges: list[tuple[int, int]] = []
    first: int | None = None
    last = 0
    count = 0
    for pk in ids.iterator(chunk_size=10000):
        if first is None:
            first = pk
        last = pk
        count += 1
        if count == batch_size:
            ranges.append((first, last))
            first, count = None, 0
    if first is not None:
        ranges.append((first, last))
    return ranges


def legacy_hashes_wrap_range(*, first_id: int, last_id: int) -> int:
    """Wrap the weak hashes with ids in [first_id, last_id]; returns how many were wrapped.

    The slow hashing runs outside any transaction; each row is then written only if its hash
    is still the one that was wrapped, so a concurrent re-import or discard wins. Safe to
    run twice (idempotent) and to run many ranges in parallel.
    """
    rows = list(
        LegacyAccount.objects.filter(_unwrapped_weak(), id__gte=first_id, id__lte=last_id)
        .order_by("id")
        .values_list("id", "hash_scheme", "password_hash")
    )
    done = 0
    for pk, scheme, legacy in rows:
        try:
            wrapped, salt = hashes.wrap(scheme, legacy)
        except (ValueError, TypeError):
            wrapped, salt = "", ""  # unparsable after all: no legacy password
        done += LegacyAccount.objects.filter(
            pk=pk, password_hash=legacy, hash_wrapped=False
        ).update(password_hash=wrapped, hash_salt=salt, hash_wrapped=bool(wrapped))
    return done


def legacy_hashes_pending_count() -> int:
    return LegacyAccount.objects.filter(_unwrapped_weak()).count()


def _candidate_accounts(user: User) -> list[tuple[str, str, str, bool]]:
    return list(
        LegacyAccount.objects.filter(user=user, state=LegacyAccount.State.MERGED, is_active=True)
        .exclude(password_hash="")
        .values_list("hash_scheme", "password_hash", "hash_salt", "hash_wrapped")
    )


def legacy_login_authenticate(
    *, email: str, password: str, request: HttpRequest | None = None
) -> User | None:
    """The user whose merged legacy accounts accept `password`, or None.

    Costs at least one wrapped verification whatever the email, so the time taken does not
    tell whether the address exists or has legacy passwords.
    """
    email = UserManager.normalize_email(email)
    user = User.objects.filter(email=email).first() if "@" in email else None
    candidates = _candidate_accounts(user) if user is not None else []
    if user is None or not candidates:
        hashes.verify_dummy(password)
        return None
    matched = False
    for scheme, stored, salt, wrapped in candidates:
        # No early exit: every candidate costs the same whether or not an earlier one matched.
        matched = (
            hashes.verify(password, scheme=scheme, stored=stored, salt=salt, wrapped=wrapped)
            or matched
        )
    if not matched:
        return None
    with transaction.atomic():
        if not user.requires_update_password:
            user.requires_update_password = True
            user.save(update_fields=["requires_update_password"])
        audit_event_record(
            actor=user, action="legacy.login", target_user=user, request=request, details={}
        )
    return user


@transaction.atomic
def legacy_credentials_discard(*, user: User) -> int:
    """Delete the user's legacy password hashes (called once they set a new password)."""
    count = (
        LegacyAccount.objects.filter(user=user)
        .exclude(password_hash="")
        .update(
            password_hash="",
            hash_salt="",
            hash_wrapped=False,
            credentials_discarded_at=timezone.now(),
        )
    )
    if count:
        audit_event_record(
            actor=user,
            action="legacy.credentials_discarded",
            target_user=user,
            details={"accounts": count},
        )
    return count
