"""Apply: merge the classified legacy accounts into users, organizations and memberships.

Each batch of identities is one transaction. On PostgreSQL a batch is a handful of set-based
statements (`apply_sql`), optionally in parallel threads; elsewhere the ORM path
(`apply_orm`).
"""

from __future__ import annotations

import logging
import queue
import threading

from django.conf import settings
from django.db import connection, connections, transaction
from django.utils import timezone

from kernel.actors import actor_user
from posti_accounts.audit import audit_event_record
from posti_accounts.models import User

from ..models import MergePlan
from . import apply_orm, apply_sql, org_review
from .lock import migration_lock
from .plan import accounts_classify, eligible_accounts, plan_report

logger = logging.getLogger(__name__)

# Identities per transaction of the set-based PostgreSQL apply (`apply_sql`). Measured at
# 1,000,000 rows: 100,000 was much slower than 20,000 (bigger temp tables and hash joins
# spill to disk, longer deferred foreign-key checks at commit), and it was measured again
# at 60,000 against 20,000 with no clear difference.
SQL_BATCH_SIZE = 20_000


def batch_committed(identities: int) -> None:
    """Called after each committed batch with the identities merged so far in this run
    (logs the progress; tests patch it to interrupt a merge between batches)."""
    logger.info("legacy merge: %d identities merged", identities)


def _use_sql() -> bool:
    """PostgreSQL runs the set-based apply (unless `LEGACY_MERGE_SQL = False`, which the
    parity test uses to run the ORM path there); other databases the ORM path. A column the
    set-based path cannot fill raises `apply_sql.UnsupportedSchema` naming it: never a
    silent switch to the other path."""
    if connection.vendor != "postgresql" or not getattr(settings, "LEGACY_MERGE_SQL", True):
        return False
    apply_sql.check_schema()
    return True


def _apply_sequential(
    actor: User | None, batch_size: int, use_sql: bool, totals: dict[str, int]
) -> None:
    last = ""
    while True:
        emails = list(
            eligible_accounts()
            .filter(email__gt=last)
            .order_by("email")
            .values_list("email", flat=True)
            .distinct()[:batch_size]
        )
        if not emails:
            break
        with transaction.atomic():
            if use_sql:
                apply_sql.merge_batch_sql(after=last, upto=emails[-1], actor=actor, totals=totals)
            else:
                apply_orm.merge_batch_orm(emails, actor, totals)
        last = emails[-1]
        batch_committed(totals["identities"])


def _apply_parallel(
    actor: User | None, batch_size: int, workers: int, totals: dict[str, int]
) -> None:
    """PostgreSQL outside a transaction: `workers` threads, each with its own connection,
    merge disjoint email ranges at once (identities never span two ranges; organizations are
    inserted in business ID order, so two batches creating the same ones wait for each
    other instead of deadlocking). Each batch is still one transaction: a failure stops the
    others after their current batch, and a rerun merges what is left."""
    ranges: queue.SimpleQueue[tuple[str, str]] = queue.SimpleQueue()
    for bounds in apply_sql.batch_bounds(batch_size):
        ranges.put(bounds)
    lock = threading.Lock()
    failures: list[BaseException] = []

    def work() -> None:
        mine = dict.fromkeys(totals, 0)
        try:
            while not failures:
                try:
                    after, upto = ranges.get_nowait()
                except queue.Empty:
                    break
                apply_sql.merge_batch_retrying(after=after, upto=upto, actor=actor, totals=mine)
                with lock:
                    batch_committed(totals["identities"] + mine["identities"])
        except BaseException as exc:  # noqa: BLE001 - re-raised in the calling thread
            failures.append(exc)
        finally:
            with lock:
                for key, value in mine.items():
                    totals[key] += value
            connections.close_all()

    threads = [threading.Thread(target=work, name=f"legacy-merge-{n}") for n in range(workers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if failures:
        raise failures[0]


def legacy_accounts_merge(*, actor: User | None = None, batch_size: int | None = None) -> MergePlan:
    """Apply the plan. Each batch of identities is one transaction, so an interrupted run
    leaves only whole identities behind and a rerun continues where it stopped; a second
    run finds nothing left to merge and changes nothing. On PostgreSQL each batch is a
    handful of set-based statements (`apply_sql`); elsewhere the ORM path (`apply_orm`)."""
    use_sql = _use_sql()
    batch_size = batch_size or (SQL_BATCH_SIZE if use_sql else settings.LEGACY_MERGE_BATCH_SIZE)
    totals = dict.fromkeys(
        [
            "identities",
            "users_created",
            "users_linked",
            "organizations_created",
            "memberships_created",
            "accounts_merged",
            "organization_reviews_opened",
        ],
        0,
    )
    with migration_lock():
        if use_sql:
            apply_sql.merge_prepare()
        accounts_classify()
        # Accounts only move from imported to merged below: the names stay the same.
        name_conflicts = org_review.organization_name_conflicts()
        report = plan_report(name_conflicts=name_conflicts)
        if use_sql:  # one statement: atomic by itself
            totals["organizations_created"] = apply_sql.organizations_create(actor=actor)
        else:
            totals["organizations_created"] = apply_orm.organizations_create_orm(actor)
        workers = settings.LEGACY_MERGE_WORKERS
        if use_sql and workers > 1 and not connection.in_atomic_block:
            _apply_parallel(actor, batch_size, workers, totals)
        else:
            _apply_sequential(actor, batch_size, use_sql, totals)
        org_review.organization_reviews_settle()
        totals["organization_reviews_opened"] = org_review.organization_reviews_open(
            name_conflicts=name_conflicts, actor=actor
        )
        with transaction.atomic():
            plan = MergePlan.objects.create(
                created_by=actor_user(actor),
                applied=True,
                report={"plan": report, "applied": totals},
                finished_at=timezone.now(),
            )
            audit_event_record(actor=actor, action="legacy.merge_applied", details=totals)
    return plan
