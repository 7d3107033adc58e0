"""The public help page's texts: reads and the staff's writes (audited)."""

from __future__ import annotations

from django.db import transaction
from django.db.models import QuerySet
from django.http import HttpRequest

from posti_accounts.audit import audit_event_record
from posti_accounts.models import User

from .models import HelpEntry

TEXT_FIELDS = tuple(
    f"{part}_{lang}" for part in ("question", "answer") for lang in ("fi", "sv", "en")
)


def help_entries_published() -> QuerySet[HelpEntry]:
    return HelpEntry.objects.filter(is_published=True).order_by("position", "pk")


def help_entry_save(
    *,
    entry: HelpEntry,
    changed: list[str],
    actor: User,
    request: HttpRequest | None = None,
) -> HelpEntry:
    """Save a help text staff edited in the admin, with an audit event naming the fields."""
    with transaction.atomic():
        created = entry.pk is None
        entry.save()
        audit_event_record(
            actor=actor,
            action="help.entry_created" if created else "help.entry_changed",
            request=request,
            details={"entry": entry.pk, "fields": sorted(changed)},
        )
    return entry


def help_entry_delete(*, entry: HelpEntry, actor: User, request: HttpRequest | None = None):
    with transaction.atomic():
        pk = entry.pk
        entry.delete()
        audit_event_record(
            actor=actor, action="help.entry_deleted", request=request, details={"entry": pk}
        )
