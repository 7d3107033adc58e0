"""Reads of the migration app."""

from __future__ import annotations

from typing import Any

from django.http import Http404

from organizations.models import EService, Organization
from organizations.selectors import organization_get_for_main_user
from posti_accounts.models import User

from .models import LegacyAccount, SharedLoginHandover


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


def shared_logins_open(*, organization: Organization) -> list[SharedLoginHandover]:
    """The shared logins handed to the organization's main users and not handled yet, with
    their old service (one query)."""
    return list(
        SharedLoginHandover.objects.filter(organization=organization, closed_at__isnull=True)
        .select_related("account__service")
        .order_by("account__service__code", "account__username")
    )


def shared_logins_open_exist(organization: Organization) -> bool:
    """Whether the organization has open shared logins (its sub-navigation shows the tab)."""
    return SharedLoginHandover.objects.filter(
        organization=organization, closed_at__isnull=True
    ).exists()


def shared_login_get_for_main_user(
    *, user: User, organization_id: Any, handover_id: Any
) -> SharedLoginHandover:
    """An open shared login of an organization `user` is an active main user of; else 404."""
    organization = organization_get_for_main_user(user=user, organization_id=organization_id)
    try:
        return SharedLoginHandover.objects.select_related("account__service", "organization").get(
            pk=int(handover_id), organization=organization, closed_at__isnull=True
        )
    except (SharedLoginHandover.DoesNotExist, TypeError, ValueError) as exc:
        raise Http404 from exc
