"""Apply, SQL path: one merge batch as set-based SQL on PostgreSQL (the same rules as
`apply_orm.merge_batch_orm`, which stays the path for other databases).

One batch is the eligible accounts whose email lies in (`after`, `upto`] in the database's
order; the caller runs it in one transaction, so an interrupted merge leaves whole
identities only. Table and column names come from the models' `_meta`, and every NOT NULL
column of an inserted table gets a value (its model default when this module does not set
it), so a column added by another app does not silently break the insert: a column this
module cannot fill raises `UnsupportedSchema` naming it, before anything is written. There
is no fallback: PostgreSQL runs this path, other databases the ORM path, and a parity test
holds the two to the same rows.

Every value that reaches the SQL text is either a name from `_meta` (quoted) or a bound
parameter.
"""

from __future__ import annotations

import logging
import time
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from allauth.account.models import EmailAddress
from django.db import OperationalError, connection, models, transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from kernel.actors import actor_user
from kernel.errors import ApplicationError
from organizations.models import Membership, Organization
from posti_accounts.models import AuditEvent, User
from posti_accounts.services import users_unverified_credentials_end

from ..models import LegacyAccount

logger = logging.getLogger(__name__)

State = LegacyAccount.State


MSG_SCHEMA_UNSUPPORTED = _(
    "The set-based merge cannot fill the column %(column)s: give it a default, or a value "
    "in migration/services/apply_sql.py."
)


class UnsupportedSchema(ApplicationError):
    """A NOT NULL column without a default this module knows how to fill."""

    def __init__(self, column: str) -> None:
        super().__init__(
            MSG_SCHEMA_UNSUPPORTED % {"column": column}, code="merge_schema_unsupported"
        )
        self.column = column


class Param:
    """A value bound as a query parameter in `_insert_parts`."""

    def __init__(self, value: Any) -> None:
        self.value = value


def _q(name: str | None) -> str:
    """A quoted column or table name. The stubs type `Field.column` as optional; every column
    quoted here is a concrete field's, which always has one."""
    assert name is not None
    return connection.ops.quote_name(name)


def _table(model: type[models.Model]) -> str:
    return _q(model._meta.db_table)


def _col(model: type[models.Model], field: str) -> str:
    concrete = model._meta.get_field(field)
    assert isinstance(concrete, models.Field)  # a column, not a reverse relation
    return _q(concrete.column)


def _insert_parts(
    model: type[models.Model], given: dict[str, Any], now
) -> tuple[str, str, list[Any]]:
    """(column list, select-expression list, params) for INSERT .. SELECT into `model`.

    `given` maps field names to SQL expressions of the SELECT; every other concrete column
    gets its model default (constant, `uuid4` -> gen_random_uuid(), `timezone.now` -> now),
    NULL when nullable, or `now` for auto_now fields.
    """
    columns: list[str] = []
    exprs: list[str] = []
    params: list[Any] = []
    for field in model._meta.concrete_fields:
        if field.primary_key and isinstance(field, models.AutoField | models.BigAutoField):
            continue
        columns.append(_q(field.column))
        if field.name in given:
            value = given[field.name]
            if isinstance(value, Param):
                exprs.append("%s")
                params.append(value.value)
            else:
                exprs.append(value)
            continue
        if getattr(field, "auto_now", False) or getattr(field, "auto_now_add", False):
            exprs.append("%s")
            params.append(now)
        elif field.has_default():
            default = field.default
            if default is uuid.uuid4:
                exprs.append("gen_random_uuid()")
            elif default is timezone.now:
                exprs.append("%s")
                params.append(now)
            elif callable(default) and default not in (dict, list):
                raise UnsupportedSchema(f"{model._meta.db_table}.{field.column}")
            else:
                exprs.append("%s")
                params.append(field.get_db_prep_save(field.get_default(), connection))
        elif getattr(field, "db_default", models.NOT_PROVIDED) is not models.NOT_PROVIDED:
            columns.pop()
        elif field.null:
            exprs.append("NULL")
        elif field.empty_strings_allowed:  # what the ORM saves for a blank CharField
            exprs.append("''")
        else:
            raise UnsupportedSchema(f"{model._meta.db_table}.{field.column}")
    return ", ".join(columns), ", ".join(exprs), params


def check_schema() -> None:
    """Raise UnsupportedSchema when an insert of this module could not fill a column."""
    now = timezone.now()
    _insert_parts(User, _USER_GIVEN, now)
    _insert_parts(EmailAddress, _EMAIL_GIVEN, now)
    _insert_parts(Organization, _ORG_GIVEN, now)
    _insert_parts(Membership, {**_MEMBERSHIP_GIVEN, "source": "", "added_by": "NULL"}, now)
    _insert_parts(AuditEvent, {**_AUDIT_GIVEN, "actor": "NULL"}, now)


# Expressions over the temporary tables below (aliases: i = identity, n = new org,
# w = wanted membership, e = audit event source).
_UNUSABLE_PASSWORD = "'!' || substr(md5(random()::text) || md5(random()::text), 1, 40)"
_USER_GIVEN = {
    "password": _UNUSABLE_PASSWORD,
    "email": "i.email",
    "first_name": "i.first_name",
    "last_name": "i.last_name",
    "phone": "i.phone",
    "requires_verify_email": "true",
    "requires_update_password": "true",
}
_EMAIL_GIVEN = {
    "user": "c.user_id",
    "email": "c.email",
    "verified": "false",
    "primary": "true",
}
_ORG_GIVEN = {"business_id": "n.business_id", "name": "n.name"}
_MEMBERSHIP_GIVEN = {
    "user": "w.user_id",
    "organization": "w.org_id",
    "role": "w.role",
    "status": "w.status",
}
_AUDIT_GIVEN = {
    "action": "e.action",
    "target_user": "e.target_user_id",
    "organization": "e.organization_id",
    "details": "e.details",
}


_TEMP_TABLES = ("mig_acc", "mig_ident", "mig_users", "mig_orgs", "mig_wanted")


def _execute(cursor, sql: str, params: list[Any] | None = None) -> None:
    """Run one statement; at DEBUG level the logger says how long it took (SQL text only,
    never the values)."""
    started = time.perf_counter()
    cursor.execute(sql, params or None)
    if logger.isEnabledFor(logging.DEBUG):
        elapsed = time.perf_counter() - started
        logger.debug("merge statement took %.3f s: %s", elapsed, " ".join(sql.split())[:70])


def merge_prepare() -> None:
    """Fresh planner statistics of the staging table (just bulk-loaded by the import, so
    autovacuum may not have analyzed it yet): the batches then read it by index ranges."""
    with connection.cursor() as cursor:
        cursor.execute(f"ANALYZE {_table(LegacyAccount)}")


def organizations_create(*, actor: User | None) -> int:
    """Create, in one statement, the organization of every business ID of the eligible
    accounts that has none yet, named by its most recently used name, with an
    `organization.created` audit event each. Runs before the batches, so concurrent batches
    never insert the same organization. Returns how many were created."""
    now = timezone.now()
    actor_id = getattr(actor_user(actor), "pk", None)
    la = LegacyAccount
    c = {name: _col(la, name) for name in (
        "business_id", "business_id_valid", "organization_name", "last_login", "updated_at",
        "state", "is_active",
    )}  # fmt: skip
    la_id = _q(la._meta.pk.column)
    org_t = _table(Organization)
    org_id, org_bid = _q(Organization._meta.pk.column), _col(Organization, "business_id")
    cols, exprs, params = _insert_parts(Organization, _ORG_GIVEN, now)
    audit_cols, audit_exprs, audit_params = _insert_parts(
        AuditEvent,
        {
            "action": "'organization.created'",
            "organization": "created.org_id",
            "details": "jsonb_build_object('source', 'legacy')",
            "actor": Param(actor_id),
        },
        now,
    )
    with connection.cursor() as cursor:
        _execute(
            cursor,
            f"""
            WITH eligible AS (
                SELECT l.{c["business_id"]} AS business_id, l.{c["organization_name"]} AS name,
                    COALESCE(l.{c["last_login"]}, 'epoch'::timestamptz) AS recency,
                    l.{c["updated_at"]} AS updated_at, l.{la_id} AS id
                FROM {_table(la)} l
                WHERE l.{c["state"]} = %s AND l.{c["is_active"]} AND l.{c["business_id_valid"]}
                    AND l.{c["business_id"]} <> ''
                    AND NOT EXISTS (
                        SELECT 1 FROM {org_t} o WHERE o.{org_bid} = l.{c["business_id"]}
                    )
            ),
            named AS (
                SELECT DISTINCT ON (business_id) business_id, name FROM eligible
                WHERE name <> ''
                ORDER BY business_id, recency DESC, updated_at DESC, id DESC
            ),
            n AS (
                SELECT b.business_id, COALESCE(named.name, b.business_id) AS name
                FROM (SELECT DISTINCT business_id FROM eligible) b
                LEFT JOIN named ON named.business_id = b.business_id
                ORDER BY b.business_id
            ),
            created AS (
                INSERT INTO {org_t} ({cols}) SELECT {exprs} FROM n
                ON CONFLICT DO NOTHING
                RETURNING {org_id} AS org_id, {org_bid} AS business_id
            ),
            audited AS (
                INSERT INTO {_table(AuditEvent)} ({audit_cols})
                SELECT {audit_exprs} FROM created ORDER BY created.business_id
                RETURNING 1
            )
            SELECT count(*) FROM audited
            """,  # noqa: S608
            [State.IMPORTED, *params, *audit_params],
        )
        (created,) = cursor.fetchone()
    return created


def batch_bounds(batch_size: int) -> list[tuple[str, str]]:
    """(after, upto] email ranges of `batch_size` eligible identities each, in one query."""
    la = LegacyAccount
    email, state, active = _col(la, "email"), _col(la, "state"), _col(la, "is_active")
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            SELECT email FROM (
                SELECT email, row_number() OVER (ORDER BY email) AS n, count(*) OVER () AS total
                FROM (
                    SELECT DISTINCT {email} AS email FROM {_table(la)}
                    WHERE {state} = %s AND {active}
                ) d
            ) x
            WHERE n %% %s = 0 OR n = total
            ORDER BY email
            """,  # noqa: S608
            [State.IMPORTED, batch_size],
        )
        uppers = [row[0] for row in cursor.fetchall()]
    return list(zip(["", *uppers], uppers, strict=False))


def merge_batch_retrying(
    *, after: str, upto: str, actor: User | None, totals: dict[str, int], attempts: int = 3
) -> None:
    """One batch in its own transaction; retried when PostgreSQL picked it as the victim of a
    deadlock with a concurrent batch (the retry starts from a clean slate)."""
    for attempt in range(attempts):
        part = dict.fromkeys(totals, 0)
        try:
            with transaction.atomic():
                merge_batch_sql(after=after, upto=upto, actor=actor, totals=part)
        except OperationalError as exc:
            if getattr(exc.__cause__, "sqlstate", None) != "40P01" or attempt == attempts - 1:
                raise
            continue
        for key, value in part.items():
            totals[key] += value
        return


@dataclass
class _Batch:
    """One batch: the eligible accounts with `after < email <= upto`, merged at `now` by
    the actor `actor_id` (None: the system)."""

    after: str
    upto: str
    actor: Any
    actor_id: int | None
    now: datetime


def _la(field: str) -> str:
    """A quoted column of the staging table."""
    return _col(LegacyAccount, field)


def merge_batch_sql(*, after: str, upto: str, actor: User | None, totals: dict[str, int]) -> int:
    """Merge every eligible account with `after < email <= upto` in named steps: stage,
    identities, users, email addresses, organizations, memberships, links, audit. Their
    organizations exist already (`organizations_create`); the caller holds the transaction.
    Returns the identities."""
    batch = _Batch(after, upto, actor, getattr(actor_user(actor), "pk", None), timezone.now())
    with connection.cursor() as cursor:
        accounts = _stage(cursor, batch)
        if not accounts:
            _execute(cursor, "DROP TABLE mig_acc")
            return 0
        _identities(cursor)
        users_created, identities = _users(cursor, batch)
        _email_addresses(cursor, batch)
        _organizations(cursor)
        memberships_created = _memberships(cursor, batch)
        _links(cursor, batch)
        _audit(cursor, batch)
        # ON COMMIT DROP alone is not enough: a savepoint release (nested atomic) keeps them.
        _execute(cursor, f"DROP TABLE {', '.join(_TEMP_TABLES)}")
    totals["identities"] += identities
    totals["users_created"] += users_created
    totals["users_linked"] += identities - users_created
    totals["memberships_created"] += memberships_created
    totals["accounts_merged"] += accounts
    return identities


def _stage(cursor, batch: _Batch) -> int:
    """Stage: copy the batch's eligible accounts into `mig_acc` (an invalid business ID
    becomes '': the person merges, without that membership). Returns how many."""
    _execute(
        cursor,
        f"""
        CREATE TEMP TABLE mig_acc ON COMMIT DROP AS
        SELECT {_q(LegacyAccount._meta.pk.column)} AS id, {_la("email")} AS email,
            {_la("first_name")} AS first_name, {_la("last_name")} AS last_name,
            {_la("phone")} AS phone,
            CASE WHEN {_la("business_id_valid")} THEN {_la("business_id")} ELSE '' END
                AS business_id,
            {_la("organization_name")} AS organization_name, {_la("role")} AS role,
            {_la("service")} AS service_id, {_la("username")} AS username,
            COALESCE({_la("last_login")}, 'epoch'::timestamptz) AS recency,
            {_la("updated_at")} AS updated_at
        FROM {_table(LegacyAccount)}
        WHERE {_la("state")} = %s AND {_la("is_active")} AND {_la("email")} > %s
            AND {_la("email")} <= %s
        """,  # noqa: S608
        [State.IMPORTED, batch.after, batch.upto],
    )
    # Statistics for the planner from a small sample (the default reads the whole batch).
    _execute(cursor, "SET LOCAL default_statistics_target = 10")
    _execute(cursor, "ANALYZE mig_acc")
    _execute(cursor, "SELECT count(*) FROM mig_acc")
    return cursor.fetchone()[0]


def _identities(cursor) -> None:
    """Identities: one row per email in `mig_ident`; the most recently used name and phone
    win."""
    _execute(
        cursor,
        """
        CREATE TEMP TABLE mig_ident ON COMMIT DROP AS
        SELECT e.email, COALESCE(n.first_name, '') AS first_name,
            COALESCE(n.last_name, '') AS last_name, COALESCE(p.phone, '') AS phone
        FROM (SELECT DISTINCT email FROM mig_acc) e
        LEFT JOIN (
            SELECT DISTINCT ON (email) email, first_name, last_name FROM mig_acc
            WHERE first_name <> '' OR last_name <> ''
            ORDER BY email, recency DESC, updated_at DESC, id DESC
        ) n ON n.email = e.email
        LEFT JOIN (
            SELECT DISTINCT ON (email) email, left(phone, 32) AS phone FROM mig_acc
            WHERE phone <> ''
            ORDER BY email, recency DESC, updated_at DESC, id DESC
        ) p ON p.email = e.email
        """,
    )
    _execute(cursor, "ANALYZE mig_ident")


def _users(cursor, batch: _Batch) -> tuple[int, int]:
    """Users: `mig_users` maps each identity to its user, existing (flagged to renew their
    password, and to verify an unverified email) or created without a usable password.
    Returns (users created, identities)."""
    user_t, user_email, user_id = _table(User), _col(User, "email"), _q(User._meta.pk.column)
    ea_t = _table(EmailAddress)
    _execute(
        cursor,
        "CREATE TEMP TABLE mig_users (email text PRIMARY KEY, user_id bigint, "
        "created boolean, verified boolean) ON COMMIT DROP",
    )
    existing_users = f"""
        INSERT INTO mig_users (email, user_id, created, verified)
        SELECT i.email, u.{user_id}, false, EXISTS (
            SELECT 1 FROM {ea_t} a WHERE a.{_col(EmailAddress, "user")} = u.{user_id}
                AND a.{_col(EmailAddress, "verified")} AND a.{_col(EmailAddress, "primary")}
        )
        FROM mig_ident i JOIN {user_t} u ON u.{user_email} = i.email
        WHERE NOT EXISTS (SELECT 1 FROM mig_users m WHERE m.email = i.email)
    """  # noqa: S608
    _execute(cursor, existing_users)
    cols, exprs, params = _insert_parts(User, _USER_GIVEN, batch.now)
    _execute(
        cursor,
        f"""
        WITH created AS (
            INSERT INTO {user_t} ({cols})
            SELECT {exprs} FROM mig_ident i
            WHERE NOT EXISTS (SELECT 1 FROM mig_users m WHERE m.email = i.email)
            ORDER BY i.email
            ON CONFLICT DO NOTHING
            RETURNING {user_id} AS user_id, {user_email} AS email
        )
        INSERT INTO mig_users (email, user_id, created, verified)
        SELECT email, user_id, true, false FROM created
        """,  # noqa: S608
        params,
    )
    # A user who signed up meanwhile (the insert skipped them) joins as an existing one.
    _execute(cursor, existing_users)
    _execute(cursor, "ANALYZE mig_users")
    _execute(
        cursor,
        f"""
        UPDATE {user_t} u SET {_col(User, "requires_update_password")} = true,
            {_col(User, "requires_verify_email")} =
                u.{_col(User, "requires_verify_email")} OR NOT m.verified
        FROM mig_users m WHERE m.user_id = u.{user_id} AND NOT m.created
        """,  # noqa: S608
    )
    # Invariant 8: a password set before the address was verified loses its access first.
    _execute(cursor, "SELECT user_id FROM mig_users WHERE NOT created AND NOT verified")
    unverified = [row[0] for row in cursor.fetchall()]
    if unverified:
        users_unverified_credentials_end(
            user_ids=unverified, actor=batch.actor, reason="legacy_merge"
        )
    _execute(cursor, "SELECT count(*) FILTER (WHERE created), count(*) FROM mig_users")
    created, identities = cursor.fetchone()
    return created, identities


def _email_addresses(cursor, batch: _Batch) -> None:
    """Email addresses: the primary, unverified `EmailAddress` of every created user."""
    cols, exprs, params = _insert_parts(EmailAddress, _EMAIL_GIVEN, batch.now)
    _execute(
        cursor,
        f"INSERT INTO {_table(EmailAddress)} ({cols}) "  # noqa: S608
        f"SELECT {exprs} FROM mig_users c WHERE c.created",
        params,
    )


def _organizations(cursor) -> None:
    """Organizations: `mig_orgs` maps the batch's business IDs to their organizations
    (created before the batches by `organizations_create`)."""
    org_id, org_bid = _q(Organization._meta.pk.column), _col(Organization, "business_id")
    _execute(
        cursor,
        "CREATE TEMP TABLE mig_orgs (org_id bigint, business_id text PRIMARY KEY) ON COMMIT DROP",
    )
    _execute(
        cursor,
        f"""
        INSERT INTO mig_orgs (org_id, business_id)
        SELECT o.{org_id}, o.{org_bid} FROM {_table(Organization)} o
        WHERE o.{org_bid} IN (SELECT DISTINCT business_id FROM mig_acc)
        """,  # noqa: S608
    )
    _execute(cursor, "ANALYZE mig_orgs")


def _memberships(cursor, batch: _Batch) -> int:
    """Memberships: one per person and organization (main user when any of their accounts
    there was an admin; pending until the email is verified), an existing legacy member
    promoted, and the service access of every account. Returns the memberships created."""
    mem_t = _table(Membership)
    m_user, m_org = _col(Membership, "user"), _col(Membership, "organization")
    m_role, m_status = _col(Membership, "role"), _col(Membership, "status")
    _execute(
        cursor,
        """
        CREATE TEMP TABLE mig_wanted ON COMMIT DROP AS
        SELECT u.user_id, o.org_id, bool_or(a.role = %s) AS admin,
            CASE WHEN bool_or(a.role = %s) THEN %s ELSE %s END AS role,
            CASE WHEN bool_and(u.verified) THEN %s ELSE %s END AS status
        FROM mig_acc a
        JOIN mig_users u ON u.email = a.email
        JOIN mig_orgs o ON o.business_id = a.business_id
        GROUP BY u.user_id, o.org_id
        """,
        [
            LegacyAccount.Role.ADMIN,
            LegacyAccount.Role.ADMIN,
            Membership.Role.MAIN_USER,
            Membership.Role.MEMBER,
            Membership.Status.ACTIVE,
            Membership.Status.PENDING,
        ],
    )
    given = {
        **_MEMBERSHIP_GIVEN,
        "source": Param(str(Membership.Source.LEGACY)),
        "added_by": Param(batch.actor_id),
    }
    cols, exprs, params = _insert_parts(Membership, given, batch.now)
    _execute(
        cursor,
        f"""
        WITH created AS (
            INSERT INTO {mem_t} ({cols}) SELECT {exprs} FROM mig_wanted w
            ORDER BY w.user_id, w.org_id
            ON CONFLICT DO NOTHING RETURNING 1
        )
        SELECT count(*) FROM created
        """,  # noqa: S608
        params,
    )
    (created,) = cursor.fetchone()
    _execute(
        cursor,
        f"""
        UPDATE {mem_t} m SET {m_role} = %s FROM mig_wanted w
        WHERE m.{m_user} = w.user_id AND m.{m_org} = w.org_id AND w.admin
            AND m.{_col(Membership, "source")} = %s AND m.{m_role} = %s AND m.{m_status} <> %s
        """,  # noqa: S608
        [
            Membership.Role.MAIN_USER,
            Membership.Source.LEGACY,
            Membership.Role.MEMBER,
            Membership.Status.REMOVED,
        ],
    )
    through = Membership.services.through
    _execute(
        cursor,
        f"""
        INSERT INTO {_table(through)} ({_col(through, "membership")}, {_col(through, "eservice")})
        SELECT DISTINCT m.{_q(Membership._meta.pk.column)}, a.service_id
        FROM mig_acc a
        JOIN mig_users u ON u.email = a.email
        JOIN mig_orgs o ON o.business_id = a.business_id
        JOIN {mem_t} m ON m.{m_user} = u.user_id AND m.{m_org} = o.org_id
        WHERE m.{m_status} <> %s
        ON CONFLICT DO NOTHING
        """,  # noqa: S608
        [Membership.Status.REMOVED],
    )
    return created


def _links(cursor, batch: _Batch) -> None:
    """Links: every account of the batch points to its user and is merged."""
    _execute(
        cursor,
        f"""
        UPDATE {_table(LegacyAccount)} l SET {_la("user")} = u.user_id, {_la("state")} = %s,
            {_la("merged_at")} = %s, {_la("conflict_reason")} = ''
        FROM mig_acc a JOIN mig_users u ON u.email = a.email
        WHERE l.{_q(LegacyAccount._meta.pk.column)} = a.id
            AND l.{_la("email")} > %s AND l.{_la("email")} <= %s
        """,  # noqa: S608
        # The email range lets the planner read only this batch's rows by the email index
        # instead of hashing the whole table for every batch.
        [State.MERGED, batch.now, batch.after, batch.upto],
    )


def _audit(cursor, batch: _Batch) -> None:
    """Audit: one `legacy.merged` event per identity, naming its accounts."""
    given = {**_AUDIT_GIVEN, "actor": Param(batch.actor_id)}
    cols, exprs, params = _insert_parts(AuditEvent, given, batch.now)
    _execute(
        cursor,
        f"""
        INSERT INTO {_table(AuditEvent)} ({cols})
        SELECT {exprs} FROM (
            SELECT 'legacy.merged' AS action, u.user_id AS target_user_id,
                NULL::bigint AS organization_id,
                jsonb_build_object('accounts', g.accounts, 'user_created', u.created)
                    AS details,
                u.email AS sort_key
            FROM mig_users u JOIN (
                SELECT email, jsonb_agg(service_id || ':' || username ORDER BY id) AS accounts
                FROM mig_acc GROUP BY email
            ) g ON g.email = u.email
        ) e
        ORDER BY e.action, e.sort_key
        """,  # noqa: S608
        params,
    )
