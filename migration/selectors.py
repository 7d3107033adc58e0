"""Reads of the migration app."""

from __future__ import annotations

from organizations.models import EService
from posti_accounts.models import User

from .models import LegacyAccount


def legacy_accounts_for_user(*, user: User) -> list[LegacyAccount]:
    """The old usernames merged into `user` (one query, service joined)."""
    if not getattr(user, "is_authenticated", False):
        return []
    return list(
        LegacyAccount.objects.filter(user=user)
        .select_related("service")
        .only(
            "username",
            "state",
            "merged_at",
            "service__code",
            "service__name_fi",
            "service__name_sv",
            "service__name_en",
        )
        .order_by("service__code", "username")
    )


def legacy_accounts_export(user: User) -> list[dict[str, str]]:
    """The user's data export section: old service usernames merged into the account (never
    their hashes). Registered with posti_accounts' export in MigrationConfig.ready."""
    return [
        {"service": la.service.code, "username": la.username, "state": la.state}
        for la in LegacyAccount.objects.filter(user=user).select_related("service")
    ]


def eservice_codes() -> list[str]:
    """Every e-service code (for the import command's error about an unknown one)."""
    return list(EService.objects.order_by("code").values_list("code", flat=True))
