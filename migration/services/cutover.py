"""Cut-over: a service's old usernames and passwords stop working."""

from __future__ import annotations

from django.db import transaction
from django.utils import timezone

from kernel.errors import ApplicationError
from organizations.models import EService
from posti_accounts.audit import audit_event_record
from posti_accounts.models import User

from ..models import LegacyAccount
from .import_stage import MSG_UNKNOWN_SERVICE


@transaction.atomic
def legacy_credentials_retire(*, service_code: str, actor: User | None = None) -> int:
    """Cut-over: the service's old usernames and passwords stop working."""
    service = EService.objects.filter(code=service_code).first()
    if service is None:
        raise ApplicationError(MSG_UNKNOWN_SERVICE, code="unknown_service")
    count = (
        LegacyAccount.objects.filter(service=service)
        .exclude(state__in=[LegacyAccount.State.RETIRED, LegacyAccount.State.DROPPED])
        .update(
            state=LegacyAccount.State.RETIRED,
            password_hash="",
            hash_salt="",
            hash_wrapped=False,
            updated_at=timezone.now(),
        )
    )
    # Dropped accounts keep their state but lose any hash as well.
    LegacyAccount.objects.filter(service=service).exclude(password_hash="").update(
        password_hash="", hash_salt="", hash_wrapped=False
    )
    audit_event_record(
        actor=actor,
        action="legacy.retired",
        details={"service": service.code, "accounts": count},
    )
    return count
