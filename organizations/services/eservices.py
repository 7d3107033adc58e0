"""Adding an e-service (the operator's import command offers it for a new legacy export)."""

from __future__ import annotations

import re

from django.db import transaction
from django.utils.translation import gettext_lazy as _

from kernel.errors import ApplicationError
from posti_accounts.audit import audit_event_record
from posti_accounts.models import User

from ..models import EService

MSG_ESERVICE_CODE_INVALID = _(
    "An e-service code is 1 to 50 lowercase letters, digits, hyphens or underscores."
)
MSG_ESERVICE_NAME_MISSING = _("Give the e-service a display name.")
MSG_ESERVICE_CODE_TAKEN = _("An e-service with this code exists already.")
_CODE = re.compile(r"[a-z0-9_-]{1,50}")


@transaction.atomic
def eservice_create(*, code: str, name: str, actor: User | None) -> EService:
    """A new active e-service named `name` in every language (staff translate the names in
    the admin later)."""
    if not _CODE.fullmatch(code or ""):
        raise ApplicationError(MSG_ESERVICE_CODE_INVALID, code="eservice_code_invalid")
    name = (name or "").strip()[:200]
    if not name:
        raise ApplicationError(MSG_ESERVICE_NAME_MISSING, code="eservice_name_missing")
    if EService.objects.filter(code=code).exists():
        raise ApplicationError(MSG_ESERVICE_CODE_TAKEN, code="eservice_code_taken")
    service = EService.objects.create(code=code, name_fi=name, name_sv=name, name_en=name)
    audit_event_record(actor=actor, action="eservice.created", details={"code": code, "name": name})
    return service
