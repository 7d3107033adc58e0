"""Import, stage 3: staging. A legacy export (CSV or JSON Lines), read by `import_parse` and
normalized by `import_normalize`, streamed into the `LegacyAccount` staging table."""

from __future__ import annotations

import codecs
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from hashlib import blake2b
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from psycopg.copy import QueuedLibpqWriter

from kernel.actors import actor_user
from kernel.errors import ApplicationError
from organizations.models import EService
from posti_accounts.audit import audit_event_record
from posti_accounts.models import User
from posti_accounts.queue import task_enqueue_on_commit

from ..models import ImportRowError, ImportRun, LegacyAccount
from .import_normalize import (
    HELSINKI,
    NULL,
    OUTPUT_FIELDS,
    RowNormalizer,
    normalize_email,
    parse_datetime,
)
from .import_parse import (
    ROW_BAD_DATE,
    ROW_BAD_ENCODING,
    ROW_BAD_JSON,
    ROW_BAD_QUOTING,
    ROW_DUPLICATE,
    ROW_NO_USERNAME,
    ROW_TOO_MANY_COLUMNS,
    WARN_EMAIL_INVALID,
    WARN_HASH_UNRECOGNIZED,
    FileError,
    RowError,
    csv_rows,
    jsonl_rows,
    unescape,
)
from .lock import migration_lock

__all__ = [
    "ROW_BAD_DATE",
    "ROW_BAD_ENCODING",
    "ROW_BAD_JSON",
    "ROW_BAD_QUOTING",
    "ROW_DUPLICATE",
    "ROW_NO_USERNAME",
    "ROW_TOO_MANY_COLUMNS",
    "WARN_EMAIL_INVALID",
    "WARN_HASH_UNRECOGNIZED",
    "ImportResult",
    "RowError",
    "legacy_accounts_import",
    "normalize_email",
    "parse_datetime",
]

MSG_UNKNOWN_FORMAT = _("Unknown file format: use .csv or .jsonl, or give --format.")
MSG_NO_USERNAME_COLUMN = _("The file has no 'username' column.")
MSG_UNKNOWN_SERVICE = _("Unknown e-service code.")
MSG_UNKNOWN_ENCODING = _("Unknown character encoding: give e.g. utf-8 or cp1252.")


@dataclass
class ImportResult:
    run: ImportRun
    errors: list[ImportRowError] = field(default_factory=list)


def detect_format(path: Path, fmt: str | None) -> str:
    if fmt:
        fmt = fmt.lower()
    else:
        suffix = path.suffix.lower()
        fmt = {".csv": "csv", ".txt": "csv", ".jsonl": "jsonl", ".ndjson": "jsonl"}.get(suffix)
    if fmt not in ("csv", "jsonl"):
        raise ApplicationError(MSG_UNKNOWN_FORMAT, code="unknown_format")
    return fmt


# --- writing ------------------------------------------------------------------------------

_TABLE = LegacyAccount._meta.db_table
# COPY columns: the service, the normalized values (`import_normalize.OUTPUT_FIELDS`) and the
# values that are the same on every row of one import. All are constant names: no input
# reaches the SQL text.
_CONSTANT_FIELDS = (
    "import_run_id",
    "created_at",
    "updated_at",
    "hash_salt",
    "hash_wrapped",
    "state",
    "conflict_reason",
    "warning",
)
_COPY_COLUMNS = ("service_id", *OUTPUT_FIELDS, *_CONSTANT_FIELDS)
_COPY_SQL = f"COPY {{table}} ({', '.join(_COPY_COLUMNS)}) FROM STDIN"
_STAGE_CREATE = f"""
CREATE TEMP TABLE legacy_stage ON COMMIT DROP AS
SELECT {", ".join(_COPY_COLUMNS)} FROM {_TABLE} WITH NO DATA
"""  # noqa: S608
_KEEP_STATES = "('merged', 'retired', 'dropped')"
_UPDATED = [c for c in _COPY_COLUMNS if c not in ("service_id", "username", "created_at")]
_STAGE_UPSERT = f"""
WITH up AS (
    INSERT INTO {_TABLE} AS t ({", ".join(_COPY_COLUMNS)})
    SELECT {", ".join(_COPY_COLUMNS)} FROM legacy_stage
    ON CONFLICT (service_id, username) DO UPDATE SET
        {", ".join(f"{c} = EXCLUDED.{c}" for c in _UPDATED if c not in ("password_hash", "state"))},
        password_hash = CASE WHEN t.state = 'retired' OR t.credentials_discarded_at IS NOT NULL
            THEN '' ELSE EXCLUDED.password_hash END,
        state = CASE WHEN t.state IN {_KEEP_STATES} THEN t.state ELSE 'imported' END
    WHERE t.row_digest <> EXCLUDED.row_digest
    RETURNING (xmax = 0) AS inserted
)
SELECT count(*) FILTER (WHERE inserted), count(*) FROM up
"""  # noqa: S608
_ERROR_COLUMNS = ("run_id", "line", "username", "severity", "reason")
_ERROR_COPY = f"COPY {ImportRowError._meta.db_table} ({', '.join(_ERROR_COLUMNS)}) FROM STDIN"


_EMAIL_FIELD = _COPY_COLUMNS.index("email")


def _email_of(line: str) -> str:
    return line.split("\t", _EMAIL_FIELD + 1)[_EMAIL_FIELD]


def _digest_key() -> bytes:
    """The row digest is a keyed BLAKE2b, so it says nothing about a legacy hash by itself."""
    return blake2b(settings.SECRET_KEY.encode(), digest_size=32, person=b"legacy-row").digest()


class _PostgresSink:
    """One COPY stream for the whole file. The first import of a service writes straight
    into the staging table; a re-import goes through a temporary table and one
    INSERT .. ON CONFLICT that touches only the rows whose digest changed."""

    def __init__(self, run: ImportRun, service: EService) -> None:
        self.run = run
        self.direct = not LegacyAccount.objects.filter(service=service).exists()
        self.cursor = connection.cursor()
        # Naive last_login values are Helsinki time: the session time zone says so during the
        # COPY only (Django reads timestamps assuming its own zone, restored in `finish`).
        self.cursor.execute("SELECT set_config('TimeZone', 'Europe/Helsinki', true)")
        if not self.direct:
            self.cursor.execute(_STAGE_CREATE)
        table = _TABLE if self.direct else "legacy_stage"
        raw = self.cursor.cursor
        # A writer thread sends the data, so the next chunk is normalized here while the
        # server is still indexing the previous one (Python and PostgreSQL on two cores).
        self._copy_cm = raw.copy(_COPY_SQL.format(table=table), writer=QueuedLibpqWriter(raw))
        self.copy = self._copy_cm.__enter__()
        self.rows = 0

    def write(self, lines: list[str]) -> None:
        self.rows += len(lines)
        # In email order within each chunk: the merge reads and updates the staging rows one
        # email range at a time, and sorted runs keep each range on a few pages per chunk
        # instead of on every page of the table (the email index is filled in order, too).
        lines.sort(key=_email_of)
        lines.append("")
        self.copy.write("\n".join(lines))

    def close(self, ok: bool) -> None:
        if ok:
            self._copy_cm.__exit__(None, None, None)
        else:
            self._copy_cm.__exit__(RuntimeError, RuntimeError("import aborted"), None)

    def finish(self, errors: list[tuple]) -> tuple[int, int]:
        """(created, updated)."""
        self.cursor.execute("SELECT set_config('TimeZone', %s, true)", [connection.timezone_name])
        if self.direct:
            created, updated = self.rows, 0
        else:
            self.cursor.execute(_STAGE_UPSERT)
            created, changed = self.cursor.fetchone()
            updated = changed - created
            self.cursor.execute("DROP TABLE legacy_stage")
        if errors:
            with self.cursor.cursor.copy(_ERROR_COPY) as copy:
                for row in errors:
                    copy.write_row(row)
        self.cursor.close()
        return created, updated


class _OrmSink:
    """Other databases (SQLite in development and tests): the same lines, read back and
    written with the ORM in batches."""

    def __init__(self, run: ImportRun, service: EService) -> None:
        self.run = run
        self.service = service
        self.created = self.updated = 0

    def write(self, lines: list[str]) -> None:
        batch = settings.LEGACY_IMPORT_BATCH_SIZE
        for start in range(0, len(lines), batch):
            self._write_batch(lines[start : start + batch])

    def close(self, ok: bool) -> None:
        pass

    def finish(self, errors: list[tuple]) -> tuple[int, int]:
        ImportRowError.objects.bulk_create(
            [ImportRowError(**dict(zip(_ERROR_COLUMNS, row, strict=True))) for row in errors],
            batch_size=1000,
        )
        return self.created, self.updated

    def _values(self, line: str) -> dict[str, Any]:
        parts = line.split("\t")
        values: dict[str, Any] = {}
        for name, text in zip(_COPY_COLUMNS, parts, strict=True):
            if name in ("service_id", "import_run_id", *_CONSTANT_FIELDS):
                continue
            if text == NULL:
                values[name] = None
            elif name in ("email_valid", "business_id_valid", "is_active"):
                values[name] = text == "t"
            elif name == "last_login":
                parsed = datetime.fromisoformat(text)
                values[name] = parsed if parsed.tzinfo else parsed.replace(tzinfo=HELSINKI)
            else:
                values[name] = unescape(text)
        return values

    def _write_batch(self, lines: list[str]) -> None:
        rows = {v["username"]: v for v in map(self._values, lines)}
        existing = {
            row["username"]: row
            for row in LegacyAccount.objects.filter(
                service=self.service, username__in=list(rows)
            ).values("username", "row_digest", "state", "credentials_discarded_at")
        }
        now = timezone.now()
        to_write: list[LegacyAccount] = []
        for username, values in rows.items():
            old = existing.get(username)
            if old is not None and old["row_digest"] == values["row_digest"]:
                continue
            account = LegacyAccount(
                service=self.service,
                import_run=self.run,
                updated_at=now,
                created_at=now,
                **values,
            )
            if old is None:
                self.created += 1
            else:
                self.updated += 1
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
                update_fields=[f for f in _UPDATED if f not in ("import_run_id",)] + ["import_run"],
            )


def _read(path: Path, file_format: str, encoding: str | None):
    reader = csv_rows if file_format == "csv" else jsonl_rows
    try:
        return reader(path, encoding or "utf-8", explicit=bool(encoding))
    except FileError as exc:
        raise ApplicationError(MSG_NO_USERNAME_COLUMN, code="no_username_column") from exc


def legacy_accounts_import(
    *,
    service_code: str,
    path: str | Path,
    fmt: str | None = None,
    encoding: str | None = None,
    actor: User | None = None,
    progress: Callable[[int], None] | None = None,
    start_wrap: bool = True,
) -> ImportResult:
    """Stream a legacy export into the staging table, upserting by (service, username).

    Holds the migration lock; the whole file is one transaction (a killed import leaves
    nothing behind, and a rerun starts over). Bad rows are recorded with their line number
    and never abort the file. When `start_wrap`, the hash-wrapping job starts once the
    import has committed.
    """
    path = Path(path)
    service = EService.objects.filter(code=service_code).first()
    if service is None:
        raise ApplicationError(MSG_UNKNOWN_SERVICE, code="unknown_service")
    if encoding:
        try:
            codecs.lookup(encoding)
        except LookupError as exc:
            raise ApplicationError(MSG_UNKNOWN_ENCODING, code="unknown_encoding") from exc
    file_format = detect_format(path, fmt)
    with migration_lock():
        run = ImportRun.objects.create(
            service=service,
            filename=path.name,
            file_format=file_format,
            started_by=actor_user(actor),
        )
        try:
            header, chunks = _read(path, file_format, encoding)
            with transaction.atomic():
                _import_rows(run, service, header, chunks, progress)
                deactivated = _inactive_credentials_end(service, actor)
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
                        "deactivated": deactivated,
                    },
                )
                if start_wrap:
                    task_enqueue_on_commit("migration.tasks.legacy_hashes_wrap_dispatch")
        except BaseException:
            ImportRun.objects.filter(pk=run.pk).update(
                status=ImportRun.Status.FAILED, finished_at=timezone.now()
            )
            raise
    return ImportResult(run=run, errors=list(run.row_errors.all()[:1000]))


def _inactive_credentials_end(service: EService, actor: User | None) -> int:
    """Delete the password hash of every account of `service` its export marks inactive.

    Rule (issue 12, finding 7): an account the old service has disabled never authenticates
    and never grants access. Its hash goes at import, whether it arrived inactive or a newer
    export deactivated it; `credentials_discarded_at` keeps a later reactivation from
    bringing the old password back. Each merged person whose account this ends gets an audit
    event. Runs inside the import's transaction.
    """
    inactive = LegacyAccount.objects.filter(service=service, is_active=False).exclude(
        password_hash=""
    )
    merged = list(
        inactive.filter(user__isnull=False).values_list("user_id", "username").order_by("id")
    )
    count = inactive.update(
        password_hash="", hash_salt="", hash_wrapped=False, credentials_discarded_at=timezone.now()
    )
    users = User.objects.in_bulk({pair[0] for pair in merged})
    for user_id, username in merged:
        audit_event_record(
            actor=actor,
            action="legacy.account_deactivated",
            target_user=users[user_id],
            details={"service": service.code, "username": username},
        )
    return count


def _import_rows(run: ImportRun, service: EService, header, chunks, progress) -> None:
    """Normalize every row and stream it to the sink; counts go on `run`."""
    now = timezone.now().isoformat()
    normalizer = RowNormalizer(
        header,
        _digest_key(),
        prefix=f"{service.pk}\t",
        suffix=f"\t{run.pk}\t{now}\t{now}\t\tf\t{LegacyAccount.State.IMPORTED}\t\t",
    )
    line_of = normalizer.line
    error = ImportRowError.Severity.ERROR
    warning = ImportRowError.Severity.WARNING
    sink = (
        _PostgresSink(run, service) if connection.vendor == "postgresql" else _OrmSink(run, service)
    )
    problems: list[tuple] = []
    seen: set[str] = set()
    total = failed = emails_invalid = hashes_unrecognized = 0
    ok = False
    try:
        for items in chunks:
            lines: list[str] = []
            append = lines.append
            for number, fields in items:
                if fields.__class__ is RowError:
                    problems.append((run.pk, number, "", error, str(fields)))
                    failed += 1
                    continue
                try:
                    username, text, warnings = line_of(fields)
                except RowError as exc:
                    username = unescape(fields[normalizer.positions[0]].strip())[:150]
                    problems.append((run.pk, number, username, error, str(exc)))
                    failed += 1
                    continue
                if username in seen:
                    problems.append((run.pk, number, unescape(username), error, ROW_DUPLICATE))
                    failed += 1
                    continue
                seen.add(username)
                append(text)
                for reason in warnings:
                    if reason == WARN_EMAIL_INVALID:
                        emails_invalid += 1
                    else:
                        hashes_unrecognized += 1
                    problems.append((run.pk, number, unescape(username), warning, reason))
            total += len(items)
            if lines:
                sink.write(lines)
            if progress is not None:
                progress(len(items))
        ok = True
    finally:
        sink.close(ok)
    created, updated = sink.finish(problems)
    run.rows_total = total
    run.rows_failed = failed
    run.rows_created = created
    run.rows_updated = updated
    run.rows_unchanged = total - failed - created - updated
    run.emails_invalid = emails_invalid
    run.hashes_unrecognized = hashes_unrecognized
