"""Reads of the migration app."""

from __future__ import annotations

from django.db.models import QuerySet

from posti_accounts.models import User

from .models import LegacyAccount, MergePlan


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


def merge_plan_latest() -> MergePlan | None:
    return MergePlan.objects.order_by("-created_at").first()


def legacy_conflicts() -> QuerySet[LegacyAccount]:
    return LegacyAccount.objects.filter(state=LegacyAccount.State.CONFLICT)
