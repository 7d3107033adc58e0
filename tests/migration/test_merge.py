import json

import pytest
from allauth.account.models import EmailAddress
from django.core.management import call_command

from migration import services as migration_services
from migration.models import LegacyAccount, MergePlan, OrganizationReviewItem
from migration.services import apply as merge_apply
from migration.services import (
    legacy_accounts_import,
    legacy_accounts_merge,
    legacy_merge_plan,
)
from organizations.models import Membership, Organization
from posti_accounts.models import AuditEvent, User
from posti_accounts.services import user_create, user_email_verified

pytestmark = pytest.mark.django_db
Reason = LegacyAccount.ConflictReason
BID_A = "0112038-9"
BID_B = "0737546-2"
BID_C = "2345678-0"


def _load(service, write_csv, rows):
    legacy_accounts_import(service_code=service.code, path=write_csv(rows), start_wrap=False)


@pytest.fixture
def legacy_data(service, service2, write_csv):
    _load(
        service,
        write_csv,
        [
            {
                "username": "mvirtanen",
                "email": "Matti.Virtanen@example.fi",
                "first_name": "Matti",
                "last_name": "Virtanen",
                "business_id": BID_A,
                "organization_name": "Kuljetus Oy",
                "role": "admin",
                "last_login": "01.01.2023 10:00",
            },
            {
                "username": "akorhonen",
                "email": "aino@example.fi",
                "first_name": "Aino",
                "business_id": BID_A,
                "organization_name": "KULJETUS OY",
            },
            {
                "username": "info",
                "email": "info@leipomo.fi",
                "business_id": BID_B,
                "organization_name": "Leipomo",
            },
            {"username": "nomail", "email": ""},
            {"username": "badmail", "email": "not-an-email"},
            {
                "username": "badbid",
                "email": "bad.bid@example.fi",
                "business_id": "1234567-8",
                "organization_name": "X",
            },
            {"username": "consumer", "email": "kuluttaja@example.fi", "first_name": "Kalle"},
        ],
    )
    _load(
        service2,
        write_csv,
        [
            {
                "username": "matti.v",
                "email": "matti.virtanen@example.fi",
                "first_name": "Matti J.",
                "last_name": "Virtanen",
                "business_id": BID_A,
                "organization_name": "Kuljetus Oy",
                "last_login": "01.06.2024 10:00",
            },
            {
                "username": "erik",
                "email": "erik@example.fi",
                "business_id": BID_C,
                "organization_name": "Bäckman Ab",
            },
            {
                "username": "sanna",
                "email": "sanna@example.fi",
                "business_id": BID_C,
                "organization_name": "Toinen Nimi Oy",
            },
            {"username": "existing", "email": "olemassa@example.fi", "first_name": "Olli"},
        ],
    )


def test_plan_reports_identities_organizations_and_conflicts(legacy_data, capsys):
    user_create(email="olemassa@example.fi", password="x" * 20)
    call_command("merge_legacy_accounts", "--dry-run", "--language", "en")
    out = capsys.readouterr().out
    assert "dry run" in out
    plan = MergePlan.objects.get()
    report = plan.report["plan"]
    assert not plan.applied
    # Conflicts are about people only; an organization's problem holds nobody back.
    assert report["conflicts"] == {
        Reason.EMAIL_MISSING: 1,
        Reason.EMAIL_INVALID: 1,
        Reason.SHARED_MAILBOX: 1,
    }
    # matti (2 accounts), aino, bad.bid, consumer, erik, sanna, olemassa
    assert report["identities"] == 7
    assert report["identities_joining_existing_users"] == 1
    assert report["identities_to_create"] == 6
    assert report["organizations_to_create"] == 2  # BID_A and BID_C (names disagree)
    assert report["memberships"] == 4
    assert report["main_users"] == 1
    assert report["warnings"] == {
        "name_mismatch": 1,
        "organization_name_conflict": 1,
        "business_id_invalid": 1,
    }
    assert report["organizations_without_main_user"] == [
        {"business_id": BID_C, "name": "Toinen Nimi Oy"}
    ]
    sanna = LegacyAccount.objects.get(username="sanna")
    assert (sanna.state, sanna.conflict_reason) == ("imported", "")
    assert not User.objects.filter(email="aino@example.fi").exists()  # dry run


def test_organization_without_main_user_is_listed(service, write_csv):
    _load(
        service,
        write_csv,
        [
            {
                "username": "a",
                "email": "a@example.fi",
                "business_id": BID_B,
                "organization_name": "Ilman Oy",
            }
        ],
    )
    report = legacy_merge_plan().report["plan"]
    assert report["organizations_without_main_user"] == [{"business_id": BID_B, "name": "Ilman Oy"}]


def test_name_mismatch_warning_follows_the_data(service, service2, write_csv):
    """One email with two names is flagged; once a newer export agrees, the flag goes."""
    _load(service, write_csv, [{"username": "a", "email": "x@example.fi", "first_name": "Anna"}])
    _load(service2, write_csv, [{"username": "b", "email": "x@example.fi", "first_name": "Anni"}])
    _load(service, write_csv, [{"username": "c", "email": "y@example.fi", "first_name": "Ville"}])
    assert legacy_merge_plan().report["plan"]["warnings"]["name_mismatch"] == 1
    assert set(
        LegacyAccount.objects.filter(warning="name_mismatch").values_list("username", flat=True)
    ) == {"a", "b"}

    _load(service2, write_csv, [{"username": "b", "email": "x@example.fi", "first_name": "Anna"}])
    assert legacy_merge_plan().report["plan"]["warnings"]["name_mismatch"] == 0
    assert not LegacyAccount.objects.exclude(warning="").exists()


@pytest.mark.postgres
def test_name_mismatch_classification_is_a_join_not_a_per_row_subplan(service, service2, write_csv):
    """PostgreSQL: flagging name mismatches over every open account must be planned as a
    semi-join. `CASE WHEN email IN (...)` was a subplan that, past work_mem, scanned the
    mismatched emails again for every row (over ten minutes at 1,000,000 rows)."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    _load(service, write_csv, [{"username": "a", "email": "x@example.fi", "first_name": "Anna"}])
    _load(service2, write_csv, [{"username": "b", "email": "x@example.fi", "first_name": "Anni"}])
    with CaptureQueriesContext(connection) as queries:
        legacy_merge_plan()
    flagging = [
        q["sql"]
        for q in queries.captured_queries
        if q["sql"].startswith("UPDATE") and "SET \"warning\" = 'name_mismatch'" in q["sql"]
    ]
    assert len(flagging) == 1
    with connection.cursor() as cursor:
        cursor.execute("EXPLAIN " + flagging[0])
        plan = "\n".join(row[0] for row in cursor.fetchall())
    assert "SubPlan" not in plan


def test_apply_creates_users_orgs_and_pending_memberships(legacy_data, service, service2):
    existing = user_create(email="olemassa@example.fi", password="x" * 20, email_verified=True)
    plan = legacy_accounts_merge()
    applied = plan.report["applied"]
    assert applied["users_created"] == 6 and applied["users_linked"] == 1
    matti = User.objects.get(email="matti.virtanen@example.fi")
    assert (matti.first_name, matti.last_name) == ("Matti J.", "Virtanen")  # most recent wins
    assert matti.requires_verify_email and matti.requires_update_password
    assert not matti.has_usable_password()
    assert EmailAddress.objects.get(user=matti).verified is False
    assert EmailAddress.objects.filter(user__legacy_accounts__isnull=False).distinct().count() == 7
    org = Organization.objects.get(business_id=BID_A)
    assert org.name == "Kuljetus Oy"
    membership = Membership.objects.get(user=matti, organization=org)
    assert membership.role == Membership.Role.MAIN_USER
    assert membership.status == Membership.Status.PENDING
    assert membership.source == Membership.Source.LEGACY
    assert set(membership.services.all()) == {service, service2}
    aino = Membership.objects.get(user__email="aino@example.fi")
    assert aino.role == Membership.Role.MEMBER and set(aino.services.all()) == {service}
    assert set(LegacyAccount.objects.filter(user=matti).values_list("username", flat=True)) == {
        "mvirtanen",
        "matti.v",
    }
    existing.refresh_from_db()
    assert existing.requires_update_password and not existing.requires_verify_email
    assert LegacyAccount.objects.get(username="existing").user == existing
    assert not LegacyAccount.objects.filter(state="conflict", user__isnull=False).exists()
    assert AuditEvent.objects.filter(action="legacy.merged").count() == 7


def test_deleting_a_merged_user_unlinks_their_legacy_accounts(legacy_data):
    """The link has no database constraint (see the model); Django's delete still clears it."""
    legacy_accounts_merge()
    matti = User.objects.get(email="matti.virtanen@example.fi")
    linked = list(LegacyAccount.objects.filter(user=matti).values_list("pk", flat=True))
    assert len(linked) == 2
    matti.delete()
    assert not LegacyAccount.objects.filter(pk__in=linked, user__isnull=False).exists()
    assert LegacyAccount.objects.filter(pk__in=linked).count() == 2


def test_verified_existing_user_gets_active_membership(service, write_csv):
    user = user_create(email="vahvistettu@example.fi", email_verified=True)
    _load(
        service,
        write_csv,
        [
            {
                "username": "v",
                "email": "vahvistettu@example.fi",
                "business_id": BID_A,
                "organization_name": "A Oy",
            }
        ],
    )
    legacy_accounts_merge()
    assert Membership.objects.get(user=user).status == Membership.Status.ACTIVE


def test_pending_membership_activates_on_email_verification(legacy_data):
    legacy_accounts_merge()
    matti = User.objects.get(email="matti.virtanen@example.fi")
    membership = Membership.objects.get(user=matti)
    assert membership.status == Membership.Status.PENDING
    user_email_verified(user=matti, email=matti.email)
    membership.refresh_from_db()
    assert membership.status == Membership.Status.ACTIVE
    matti.refresh_from_db()
    assert not matti.requires_verify_email


def _snapshot():
    return (
        sorted(User.objects.values_list("email", "first_name", "requires_update_password")),
        sorted(Organization.objects.values_list("business_id", "name")),
        sorted(
            Membership.objects.values_list(
                "user__email", "organization__business_id", "role", "status"
            )
        ),
        sorted(
            Membership.services.through.objects.values_list(
                "membership__user__email", "eservice__code"
            )
        ),
        sorted(LegacyAccount.objects.values_list("username", "state", "user__email")),
        EmailAddress.objects.count(),
    )


def test_merge_is_idempotent(legacy_data):
    legacy_accounts_merge()
    before = _snapshot()
    second = legacy_accounts_merge()
    assert second.report["applied"]["accounts_merged"] == 0
    assert _snapshot() == before


@pytest.mark.faults  # a merge killed mid-run: part of the fault suite
def test_interrupted_merge_leaves_whole_identities_and_resumes(legacy_data, monkeypatch):
    class Killed(Exception):
        pass

    def kill_after_two(merged_so_far):
        if merged_so_far >= 2:
            raise Killed

    monkeypatch.setattr(merge_apply, "batch_committed", kill_after_two)
    with pytest.raises(Killed):
        legacy_accounts_merge(batch_size=1)
    # Exactly the identities of the committed batches exist, each complete.
    merged_emails = set(
        LegacyAccount.objects.filter(state="merged").values_list("email", flat=True)
    )
    assert len(merged_emails) == 2
    for email in merged_emails:
        user = User.objects.get(email=email)
        assert EmailAddress.objects.filter(user=user).exists()
        assert not LegacyAccount.objects.filter(email=email, state="imported").exists()
    assert User.objects.count() == 2
    # The lock was released by the failure: a rerun finishes the job.
    monkeypatch.setattr(merge_apply, "batch_committed", lambda merged_so_far: None)
    legacy_accounts_merge(batch_size=1)
    resumed = _snapshot()
    assert LegacyAccount.objects.filter(state="imported").count() == 0
    assert User.objects.count() == 7
    assert len(resumed[2]) == 4  # the two memberships of BID_A and of BID_C


def test_merge_uses_bounded_queries(service, write_csv, django_assert_max_num_queries):
    for size in (10, 40):
        rows = [
            {
                "username": f"s{size}-{i}",
                "email": f"p{size}-{i}@example.fi",
                "business_id": BID_A,
                "organization_name": "A Oy",
                "role": "admin",
            }
            for i in range(size)
        ]
        _load(service, write_csv, rows)
        with django_assert_max_num_queries(60):
            legacy_accounts_merge(batch_size=100)
    assert Membership.objects.count() == 50


def test_staff_fix_email_and_drop(legacy_data, user):
    legacy_merge_plan()
    bad = LegacyAccount.objects.get(username="badmail")
    assert bad.state == "conflict"
    migration_services.legacy_account_fix_email(account=bad, email=" Uusi@Example.fi", actor=user)
    nomail = LegacyAccount.objects.get(username="nomail")
    migration_services.legacy_accounts_drop(account_ids=[nomail.pk], actor=user)
    legacy_accounts_merge()
    bad.refresh_from_db()
    nomail.refresh_from_db()
    assert bad.state == "merged" and bad.user.email == "uusi@example.fi"
    assert nomail.state == "dropped" and nomail.user is None
    assert AuditEvent.objects.filter(action="legacy.email_fixed", actor=user).exists()


def test_admin_review_queue_fixes_email(legacy_data, admin_client, settings):
    from django.urls import reverse

    settings.ADMIN_REQUIRE_2FA = False
    legacy_merge_plan()
    bad = LegacyAccount.objects.get(username="badmail")
    queue = admin_client.get(reverse("admin:migration_legacyconflict_changelist"))
    assert "badmail" in queue.content.decode()
    url = reverse("admin:migration_legacyconflict_change", args=[bad.pk])
    response = admin_client.post(url, {"email": "korjattu@example.fi"})
    assert response.status_code == 302
    bad.refresh_from_db()
    assert (bad.email, bad.state, bad.conflict_reason) == ("korjattu@example.fi", "imported", "")
    merged = LegacyAccount.objects.get(username="mvirtanen")
    legacy_accounts_merge()
    merged.refresh_from_db()
    # A merged account's email is no longer editable.
    admin_client.post(
        reverse("admin:migration_legacyaccount_change", args=[merged.pk]), {"email": "x@y.fi"}
    )
    merged.refresh_from_db()
    assert merged.email == "matti.virtanen@example.fi"


def _full_snapshot():
    return (
        sorted(
            (
                u.email,
                u.first_name,
                u.last_name,
                u.phone,
                u.requires_verify_email,
                u.requires_update_password,
                u.has_usable_password(),
            )
            for u in User.objects.all()
        ),
        sorted(EmailAddress.objects.values_list("user__email", "email", "verified", "primary")),
        sorted(Organization.objects.values_list("business_id", "name", "is_active")),
        sorted(
            Membership.objects.values_list(
                "user__email", "organization__business_id", "role", "status", "source"
            )
        ),
        sorted(
            Membership.services.through.objects.values_list(
                "membership__user__email", "membership__organization__business_id", "eservice_id"
            )
        ),
        sorted(
            LegacyAccount.objects.values_list(
                "username", "state", "conflict_reason", "user__email"
            ),
            key=str,
        ),
        sorted(
            (
                (e.action, e.target_user.email if e.target_user else None)
                + ((e.organization.business_id,) if e.organization else (None,))
                + (e.details.get("user_created"), sorted(e.details.get("accounts", [])))
            )
            for e in AuditEvent.objects.filter(
                action__in=[
                    "legacy.merged",
                    "organization.created",
                    "legacy.organization_review_opened",
                ]
            )
        ),
        sorted(
            (i.organization.business_id, i.kind, i.status, json.dumps(i.candidates))
            for i in OrganizationReviewItem.objects.select_related("organization")
        ),
    )


@pytest.mark.postgres
def test_set_based_merge_matches_orm_merge(legacy_data, settings):
    """PostgreSQL: the set-based apply gives exactly what the ORM apply gives."""
    from django.db import transaction

    existing = user_create(email="olemassa@example.fi", password="x" * 20)
    verified = user_create(email="erik@example.fi", email_verified=True)
    LegacyAccount.objects.filter(username="sanna").update(organization_name="Bäckman Ab")
    org_c = Organization.objects.create(business_id=BID_C, name="Bäckman Ab")
    Membership.objects.create(
        user=verified, organization=org_c, source=Membership.Source.LEGACY, role="member"
    )

    class Rollback(Exception):
        pass

    results = {}
    for use_sql in (False, True):
        settings.LEGACY_MERGE_SQL = use_sql
        assert merge_apply._use_sql() is use_sql
        try:
            with transaction.atomic():
                first = legacy_accounts_merge(batch_size=2).report["applied"]
                second = legacy_accounts_merge(batch_size=2).report["applied"]
                results[use_sql] = (first, second, _full_snapshot())
                raise Rollback
        except Rollback:
            pass
    assert results[True] == results[False]
    first, second, snapshot = results[True]
    assert first["users_created"] == 5 and first["users_linked"] == 2
    assert first["memberships_created"] == 3 and second["accounts_merged"] == 0
    existing.refresh_from_db()
    assert not existing.requires_update_password  # rolled back


def _bulk_rows(prefix: str, count: int) -> list[dict]:
    """People spread over the alphabet, sharing a few organizations, so every batch of a
    parallel merge meets organizations other batches use too."""
    bids = [BID_A, BID_B, BID_C]
    return [
        {
            "username": f"{prefix}{i}",
            "email": f"{chr(97 + i % 26)}{i}@example.fi",
            "first_name": f"N{i}",
            "business_id": bids[i % 3],
            "organization_name": ["A Oy", "B Oy", "C Oy"][i % 3],
            "role": "admin" if i % 7 == 0 else "user",
        }
        for i in range(count)
    ]


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_parallel_merge_matches_sequential_merge(service, service2, write_csv, settings):
    """PostgreSQL outside a transaction: batches run in two threads, each with its own
    connection, and give exactly what one thread gives."""
    from django.db import transaction

    _load(service, write_csv, _bulk_rows("a", 60))
    _load(service2, write_csv, _bulk_rows("b", 45))
    settings.LEGACY_MERGE_WORKERS = 2

    class Rollback(Exception):
        pass

    try:
        with transaction.atomic():  # inside a transaction: the sequential path
            sequential = legacy_accounts_merge(batch_size=4).report["applied"]
            expected = _full_snapshot()
            raise Rollback
    except Rollback:
        pass
    assert not User.objects.exists()
    threads = []
    original = merge_apply.apply_sql.merge_batch_sql

    def spy(**kwargs):
        import threading

        threads.append(threading.current_thread().name)
        return original(**kwargs)

    merge_apply.apply_sql.merge_batch_sql = spy
    try:
        parallel = legacy_accounts_merge(batch_size=4).report["applied"]
    finally:
        merge_apply.apply_sql.merge_batch_sql = original
    assert parallel == sequential
    assert _full_snapshot() == expected
    assert len(set(threads)) == 2 and len(threads) == 15  # 60 people in batches of 4
    assert Organization.objects.count() == 3
    assert AuditEvent.objects.filter(action="organization.created").count() == 3
    assert AuditEvent.objects.filter(action="legacy.merged").count() == 60
    assert legacy_accounts_merge(batch_size=4).report["applied"]["accounts_merged"] == 0


@pytest.mark.faults  # a merge killed mid-run: part of the fault suite
@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_parallel_merge_failure_stops_and_rerun_finishes(service, write_csv, settings, monkeypatch):
    _load(service, write_csv, _bulk_rows("a", 40))
    settings.LEGACY_MERGE_WORKERS = 2

    class Killed(Exception):
        pass

    def kill(merged_so_far):
        if merged_so_far >= 8:
            raise Killed

    monkeypatch.setattr(merge_apply, "batch_committed", kill)
    with pytest.raises(Killed):
        legacy_accounts_merge(batch_size=4)
    merged = set(LegacyAccount.objects.filter(state="merged").values_list("email", flat=True))
    assert 8 <= len(merged) < 40 and User.objects.count() == len(merged)
    for email in merged:  # whole identities only
        assert EmailAddress.objects.filter(email=email).exists()
    monkeypatch.setattr(merge_apply, "batch_committed", lambda merged_so_far: None)
    legacy_accounts_merge(batch_size=4)
    assert User.objects.count() == 40
    assert not LegacyAccount.objects.filter(state="imported").exists()


def test_admin_review_queue_invalid_email_shows_only_the_error(legacy_data, admin_client, settings):
    from django.contrib.messages import get_messages
    from django.urls import reverse

    settings.ADMIN_REQUIRE_2FA = False
    legacy_merge_plan()
    bad = LegacyAccount.objects.get(username="badmail")
    url = reverse("admin:migration_legacyconflict_change", args=[bad.pk])
    response = admin_client.post(url, {"email": "ei-osoite"})
    levels = [m.level_tag for m in get_messages(response.wsgi_request)]
    assert levels == ["error"]
    assert response.status_code == 302 and response["Location"] == url
    bad.refresh_from_db()
    assert bad.state == "conflict"
