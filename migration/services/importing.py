"""Import of legacy exports (CSV or JSON Lines) into the `LegacyAccount` staging table."""

from __future__ import annotations

import csv
import hashlib
import hmac
import json
import re
import unicodedata
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from functools import lru_cache
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import EmailValidator
from django.db import connection, transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from organizations.models import EService
from organizations.validators import business_id_normalize
from posti_accounts.audit import audit_event_record
from posti_accounts.errors import ApplicationError

from .. import hashes
from ..models import ImportRowError, ImportRun, LegacyAccount
from .locks import migration_lock

MSG_UNKNOWN_FORMAT = _("Unknown file format: use .csv or .jsonl, or give --format.")
MSG_NO_USERNAME_COLUMN = _("The file has no 'username' column.")
MSG_UNKNOWN_SERVICE = _("Unknown e-service code.")
_Reason = ImportRowError.Reason
ROW_NO_USERNAME = _Reason.NO_USERNAME
ROW_BAD_DATE = _Reason.BAD_DATE
ROW_BAD_QUOTING = _Reason.BAD_QUOTING
ROW_BAD_JSON = _Reason.BAD_JSON
ROW_BAD_ENCODING = _Reason.BAD_ENCODING
ROW_DUPLICATE = _Reason.DUPLICATE
ROW_TOO_MANY_COLUMNS = _Reason.TOO_MANY_COLUMNS
WARN_HASH_UNRECOGNIZED = _Reason.HASH_UNRECOGNIZED
WARN_EMAIL_INVALID = _Reason.EMAIL_INVALID

_HELSINKI = ZoneInfo("Europe/Helsinki")
PG_BATCH_SIZE = 20000
_EMAIL = EmailValidator()
_TRUE = {"1", "true", "yes", "y", "k", "kyllä", "kylla", "ja", "x", "active", "aktiivinen"}
_ADMIN_ROLES = {
    "admin",
    "administrator",
    "main_user",
    "pääkäyttäjä",
    "paakayttaja",
    "huvudanvändare",
}
_IMPORTED_FIELDS = [
    "email_raw",
    "email",
    "email_valid",
    "first_name",
    "last_name",
    "phone",
    "business_id",
    "business_id_valid",
    "organization_name",
    "role",
    "is_active",
    "password_hash",
    "hash_scheme",
    "hash_salt",
    "hash_wrapped",
    "last_login",
    "row_digest",
    "state",
    "conflict_reason",
    "warning",
    "import_run",
    "updated_at",
]


class RowError(Exception):
    pass


@dataclass
class ImportResult:
    run: ImportRun
    errors: list[ImportRowError] = field(default_factory=list)


@lru_cache(maxsize=1 << 17)  # one person's address recurs across the exports
def normalize_email(value: str) -> tuple[str, bool]:
    """Trim and lowercase; returns (normalized, valid)."""
    email = unicodedata.normalize("NFC", (value or "").strip()).strip("<>").strip().lower()
    if email.startswith("mailto:"):
        email = email[7:]
    if not email:
        return "", False
    try:
        _EMAIL(email)
    except ValidationError:
        return email[:254], False
    return email[:254], len(email) <= 254


# The common Finnish form, parsed without strptime (the formats below stay the fallback).
_FI_DATETIME = re.compile(r"(\d{1,2})\.(\d{1,2})\.(\d{4})(?: (\d{1,2}):(\d{2})(?::(\d{2}))?)?")


def _parse_datetime(value: str) -> datetime | None:
    value = (value or "").strip()
    if not value:
        return None
    match = _FI_DATETIME.fullmatch(value)
    if match:
        day, month, year, hour, minute, second = match.groups()
        try:
            return datetime(
                int(year),
                int(month),
                int(day),
                int(hour or 0),
                int(minute or 0),
                int(second or 0),
                tzinfo=_HELSINKI,
            )
        except ValueError:
            pass
    parsed = None
    # Every format below starts with a day and a dot: skip them for ISO 8601 values.
    for fmt in ("%d.%m.%Y %H:%M", "%d.%m.%Y %H:%M:%S", "%d.%m.%Y") if "." in value[:3] else ():
        try:
            parsed = datetime.strptime(value, fmt)
            break
        except ValueError:
            continue
    if parsed is None:
        try:
            parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError as exc:
            raise RowError(ROW_BAD_DATE) from exc
    if timezone.is_naive(parsed):
        parsed = parsed.replace(tzinfo=_HELSINKI)
    return parsed


def _split_full_name(full: str) -> tuple[str, str]:
    full = " ".join(full.split())
    if "," in full:
        last, _sep, first = full.partition(",")
        return first.strip(), last.strip()
    first, _sep, last = full.partition(" ")
    return first, last


# Built once: the same serialization as json.dumps(..., sort_keys=True, default=str,
# ensure_ascii=False), and an HMAC whose key schedule is computed once and copied per row.
_DIGEST_JSON = json.JSONEncoder(sort_keys=True, default=str, ensure_ascii=False)


@lru_cache(maxsize=4)
def _digest_hmac(key: str) -> hmac.HMAC:
    return hmac.new(key.encode(), digestmod=hashlib.sha256)


def _row_digest(values: dict[str, Any]) -> str:
    mac = _digest_hmac(settings.SECRET_KEY).copy()
    mac.update(_DIGEST_JSON.encode(values).encode())
    return mac.hexdigest()


def _clean(value: Any, limit: int) -> str:
    if value is None:
        return ""
    return " ".join(str(value).split())[:limit]


@lru_cache(maxsize=1 << 16)  # an organization's ID recurs on every member's row
def _business_id(raw: str) -> tuple[str, bool]:
    if not raw:
        return "", True
    try:
        return business_id_normalize(raw), True
    except ValidationError:
        return raw, False


def row_to_values(row: dict[str, Any]) -> tuple[dict[str, Any], list[str]]:
    """Normalize one input row; raises RowError for a bad row. Returns (values, warnings)."""
    username = _clean(row.get("username"), 150)
    if not username:
        raise RowError(ROW_NO_USERNAME)
    warnings: list[str] = []
    email_raw = _clean(row.get("email"), 320)
    email, email_valid = normalize_email(email_raw)
    if email_raw and not email_valid:
        warnings.append(WARN_EMAIL_INVALID)
    first, last = _clean(row.get("first_name"), 150), _clean(row.get("last_name"), 150)
    if not (first or last) and row.get("full_name"):
        first, last = _split_full_name(str(row["full_name"]))
    bid, bid_valid = _business_id(_clean(row.get("business_id"), 32))
    recognized = hashes.recognize(str(row.get("password_hash") or ""))
    if recognized.scheme == hashes.UNKNOWN:
        warnings.append(WARN_HASH_UNRECOGNIZED)
    active_raw = row.get("active")
    is_active = (
        True
        if active_raw is None or str(active_raw).strip() == ""
        else (active_raw is True or str(active_raw).strip().lower() in _TRUE)
    )
    values = {
        "email_raw": email_raw,
        "email": email,
        "email_valid": email_valid,
        "first_name": first[:150],
        "last_name": last[:150],
        "phone": _clean(row.get("phone"), 64),
        "business_id": bid,
        "business_id_valid": bid_valid,
        "organization_name": _clean(row.get("organization_name"), 200),
        "role": (
            LegacyAccount.Role.ADMIN
            if _clean(row.get("role"), 32).lower() in _ADMIN_ROLES
            else LegacyAccount.Role.USER
        ),
        "is_active": is_active,
        "password_hash": recognized.hash,
        "hash_scheme": recognized.scheme,
        "last_login": _parse_datetime(str(row.get("last_login") or "")),
    }
    return {"username": username, **values}, warnings


# --- readers ------------------------------------------------------------------------------


def _decode(raw: bytes, encoding: str, explicit: bool) -> str:
    try:
        return raw.decode(encoding)
    except UnicodeDecodeError:
        if explicit:
            raise
        # Old Windows exports mixed into a UTF-8 file: cp1252 is what they nearly always are.
        return raw.decode("cp1252")


def _lines(path: Path, encoding: str, explicit: bool) -> Iterator[tuple[int, str | None]]:
    """(line number, text) for each physical line; text None when it cannot be decoded."""
    with path.open("rb") as handle:
        for number, raw in enumerate(handle, start=1):
            if number == 1 and raw.startswith(b"\xef\xbb\xbf"):
                raw = raw[3:]
            raw = raw.rstrip(b"\r\n")
            if not raw.strip():
                continue
            try:
                yield number, _decode(raw, encoding, explicit)
            except UnicodeDecodeError:
                yield number, None


def _csv_rows(
    path: Path, encoding: str, explicit: bool
) -> Iterator[tuple[int, dict[str, Any] | RowError]]:
    lines = _lines(path, encoding, explicit)
    header: list[str] | None = None
    delimiter = ","
    for number, text in lines:
        if header is None:
            if text is None:
                raise ApplicationError(MSG_NO_USERNAME_COLUMN, code="no_username_column")
            delimiter = ";" if text.count(";") > text.count(",") else ","
            header = [
                h.strip().lower().lstrip("\ufeff")
                for h in next(csv.reader([text], delimiter=delimiter))
            ]
            if "username" not in header:
                raise ApplicationError(MSG_NO_USERNAME_COLUMN, code="no_username_column")
            continue
        if text is None:
            yield number, RowError(ROW_BAD_ENCODING)
            continue
        try:
            values = next(csv.reader([text], delimiter=delimiter, strict=True))
        except csv.Error:
            yield number, RowError(ROW_BAD_QUOTING)
            continue
        if len(values) > len(header) and any(v.strip() for v in values[len(header) :]):
            yield number, RowError(ROW_TOO_MANY_COLUMNS)
            continue
        yield number, dict(zip(header, values, strict=False))


def _jsonl_rows(
    path: Path, encoding: str, explicit: bool
) -> Iterator[tuple[int, dict[str, Any] | RowError]]:
    for number, text in _lines(path, encoding, explicit):
        if text is None:
            yield number, RowError(ROW_BAD_ENCODING)
            continue
        try:
            obj = json.loads(text)
        except ValueError:
            yield number, RowError(ROW_BAD_JSON)
            continue
        if not isinstance(obj, dict):
            yield number, RowError(ROW_BAD_JSON)
            continue
        yield number, {str(k).strip().lower(): v for k, v in obj.items()}


def detect_format(path: Path, fmt: str | None) -> str:
    if fmt:
        fmt = fmt.lower()
    else:
        suffix = path.suffix.lower()
        fmt = {".csv": "csv", ".txt": "csv", ".jsonl": "jsonl", ".ndjson": "jsonl"}.get(suffix)
    if fmt not in ("csv", "jsonl"):
        raise ApplicationError(MSG_UNKNOWN_FORMAT, code="unknown_format")
    return fmt


# --- upsert -------------------------------------------------------------------------------


_STAGE_VALUE_FIELDS = [
    "email_raw",
    "email",
    "email_valid",
    "first_name",
    "last_name",
    "phone",
    "business_id",
    "business_id_valid",
    "organization_name",
    "role",
    "is_active",
    "password_hash",
    "hash_scheme",
    "last_login",
]
_STAGE_COLUMNS = ["service_id", "username", "row_digest", "import_run_id", "updated_at"] + (
    _STAGE_VALUE_FIELDS
)
_TABLE = LegacyAccount._meta.db_table
# Built only from the constant column names above: no input reaches the SQL text.
_STAGE_CREATE = f"""
CREATE TEMP TABLE IF NOT EXISTS legacy_stage AS
SELECT {", ".join(_STAGE_COLUMNS)} FROM {_TABLE} WITH NO DATA
"""  # noqa: S608
_KEEP_STATES = "('merged', 'retired', 'dropped')"
_STAGE_UPSERT = f"""
INSERT INTO {_TABLE} AS t ({", ".join(_STAGE_COLUMNS)}, created_at, hash_salt, hash_wrapped,
    state, conflict_reason, warning)
SELECT {", ".join(_STAGE_COLUMNS)}, updated_at, '', false, 'imported', '', ''
FROM legacy_stage
ON CONFLICT (service_id, username) DO UPDATE SET
    {", ".join(f"{c} = EXCLUDED.{c}" for c in _STAGE_COLUMNS[2:] if c != "password_hash")},
    password_hash = CASE WHEN t.state = 'retired' OR t.credentials_discarded_at IS NOT NULL
        THEN '' ELSE EXCLUDED.password_hash END,
    hash_salt = '', hash_wrapped = false,
    state = CASE WHEN t.state IN {_KEEP_STATES} THEN t.state ELSE 'imported' END,
    conflict_reason = '', warning = ''
WHERE t.row_digest <> EXCLUDED.row_digest
RETURNING (xmax = 0)
"""  # noqa: S608


class _Batch:
    def __init__(self, run: ImportRun, service: EService) -> None:
        self.run = run
        self.service = service
        self.rows: dict[str, tuple[int, dict[str, Any]]] = {}

    def flush(self) -> None:
        if not self.rows:
            return
        if connection.vendor == "postgresql":
            self._flush_copy()
        else:
            self._flush_orm()
        self.rows.clear()

    def _flush_copy(self) -> None:
        """PostgreSQL: COPY the batch into a temporary table, then one INSERT .. ON CONFLICT
        that touches only rows whose digest changed (the same rules as `_flush_orm`)."""
        now = timezone.now()
        with connection.cursor() as cursor:
            cursor.execute(_STAGE_CREATE)
            raw = cursor.cursor  # the psycopg cursor, for COPY
            with raw.copy(f"COPY legacy_stage ({', '.join(_STAGE_COLUMNS)}) FROM STDIN") as copy:
                for username, (_line, values) in self.rows.items():
                    copy.write_row(
                        [self.service.pk, username, _row_digest(values), self.run.pk, now]
                        + [values[name] for name in _STAGE_VALUE_FIELDS]
                    )
            cursor.execute(_STAGE_UPSERT)
            returned = cursor.fetchall()
            cursor.execute("TRUNCATE legacy_stage")
        created = sum(1 for (inserted,) in returned if inserted)
        self.run.rows_created += created
        self.run.rows_updated += len(returned) - created
        self.run.rows_unchanged += len(self.rows) - len(returned)

    def _flush_orm(self) -> None:
        existing = {
            row["username"]: row
            for row in LegacyAccount.objects.filter(
                service=self.service, username__in=list(self.rows)
            ).values("username", "row_digest", "state", "credentials_discarded_at", "hash_wrapped")
        }
        now = timezone.now()
        to_write: list[LegacyAccount] = []
        for username, (_line, values) in self.rows.items():
            digest = _row_digest(values)
            old = existing.get(username)
            if old is not None and old["row_digest"] == digest:
                self.run.rows_unchanged += 1
                continue
            account = LegacyAccount(
                service=self.service,
                username=username,
                row_digest=digest,
                import_run=self.run,
                updated_at=now,
                created_at=now,
                **{k: v for k, v in values.items() if k != "username"},
            )
            if old is None:
                self.run.rows_created += 1
            else:
                self.run.rows_updated += 1
                state = old["state"]
                # A newer export never brings back a discarded or retired legacy password,
                # and never undoes a merge, a retirement or a staff decision to drop.
                if state in (
                    LegacyAccount.State.MERGED,
                    LegacyAccount.State.RETIRED,
                    LegacyAccount.State.DROPPED,
                ):
                    account.state = state
                if state == LegacyAccount.State.RETIRED or old["credentials_discarded_at"]:
                    account.password_hash = ""
            to_write.append(account)
        if to_write:
            LegacyAccount.objects.bulk_create(
                to_write,
                update_conflicts=True,
                unique_fields=["service", "username"],
                update_fields=_IMPORTED_FIELDS,
            )


def legacy_accounts_import(
    *,
    service_code: str,
    path: str | Path,
    fmt: str | None = None,
    encoding: str | None = None,
    actor=None,
    progress: Callable[[int], None] | None = None,
    start_wrap: bool = True,
) -> ImportResult:
    """Stream a legacy export into the staging table, upserting by (service, username).

    Holds the migration lock. Each batch is its own transaction, so a huge file never holds
    one long transaction; bad rows are recorded with their line number and never abort the
    file. When `start_wrap`, the hash-wrapping job starts once the import has committed.
    """
    path = Path(path)
    service = EService.objects.filter(code=service_code).first()
    if service is None:
        raise ApplicationError(MSG_UNKNOWN_SERVICE, code="unknown_service")
    file_format = detect_format(path, fmt)
    reader = _csv_rows if file_format == "csv" else _jsonl_rows
    batch_size = settings.LEGACY_IMPORT_BATCH_SIZE
    if connection.vendor == "postgresql":
        # COPY batches: fewer, larger transactions (memory stays bounded by the batch).
        batch_size = max(batch_size, PG_BATCH_SIZE)
    with migration_lock():
        run = ImportRun.objects.create(
            service=service,
            filename=path.name,
            file_format=file_format,
            started_by=actor if getattr(actor, "is_authenticated", False) else None,
        )
        batch = _Batch(run, service)
        problems: list[ImportRowError] = []
        seen: set[str] = set()
        try:
            for number, row in reader(path, encoding or "utf-8", explicit=bool(encoding)):
                run.rows_total += 1
                if progress is not None:
                    progress(1)
                try:
                    if isinstance(row, RowError):
                        raise row
                    values, warnings = row_to_values(row)
                except RowError as exc:
                    run.rows_failed += 1
                    username = _clean(row.get("username"), 150) if isinstance(row, dict) else ""
                    problems.append(
                        ImportRowError(run=run, line=number, username=username, reason=str(exc))
                    )
                    continue
                username = values["username"]
                if username in seen:
                    run.rows_failed += 1
                    problems.append(
                        ImportRowError(
                            run=run, line=number, username=username, reason=ROW_DUPLICATE
                        )
                    )
                    continue
                seen.add(username)
                for warning in warnings:
                    if warning == WARN_EMAIL_INVALID:
                        run.emails_invalid += 1
                    else:
                        run.hashes_unrecognized += 1
                    problems.append(
                        ImportRowError(
                            run=run,
                            line=number,
                            username=username,
                            reason=warning,
                            severity=ImportRowError.Severity.WARNING,
                        )
                    )
                batch.rows[username] = (number, values)
                if len(batch.rows) >= batch_size:
                    with transaction.atomic():
                        batch.flush()
                        ImportRowError.objects.bulk_create(problems)
                    problems.clear()
            with transaction.atomic():
                batch.flush()
                ImportRowError.objects.bulk_create(problems)
                run.status = ImportRun.Status.DONE
                run.finished_at = timezone.now()
                run.save()
                audit_event_record(
                    actor=actor,
                    action="legacy.imported",
                    details={
                        "service": service.code,
                        "file": path.name,
                        "rows": run.rows_total,
                        "created": run.rows_created,
                        "updated": run.rows_updated,
                        "unchanged": run.rows_unchanged,
                        "failed": run.rows_failed,
                    },
                )
                if start_wrap:
                    from ..tasks import legacy_hashes_wrap_dispatch

                    transaction.on_commit(legacy_hashes_wrap_dispatch.delay)
        except BaseException:
            ImportRun.objects.filter(pk=run.pk).update(
                status=ImportRun.Status.FAILED, finished_at=timezone.now()
            )
            raise
    return ImportResult(run=run, errors=list(run.row_errors.all()[:1000]))
