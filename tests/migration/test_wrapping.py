import pytest
from passlib import hash as ph

from migration import tasks
from migration.models import LegacyAccount
from migration.services import (
    legacy_accounts_import,
    legacy_hashes_pending_count,
    legacy_hashes_pending_ranges,
    legacy_hashes_wrap_range,
)

pytestmark = pytest.mark.django_db


def _rows(n):
    return [{"username": f"w{i}", "password_hash": ph.hex_md5.hash(f"pw{i}")} for i in range(n)]


def test_wrapping_job_is_resumable_and_idempotent(service, write_csv, settings):
    settings.LEGACY_WRAP_BATCH_SIZE = 2
    legacy_accounts_import(service_code=service.code, path=write_csv(_rows(5)), start_wrap=False)
    ranges = legacy_hashes_pending_ranges(batch_size=2)
    assert len(ranges) == 3
    # A worker died after the first batch: the dispatcher picks up only what is left.
    assert legacy_hashes_wrap_range(first_id=ranges[0][0], last_id=ranges[0][1]) == 2
    assert legacy_hashes_pending_count() == 3
    assert tasks.legacy_hashes_wrap_dispatch.delay().get() == 2
    assert legacy_hashes_pending_count() == 0
    assert LegacyAccount.objects.filter(hash_wrapped=True).count() == 5
    # Running a batch again (redelivered task) changes nothing.
    before = list(LegacyAccount.objects.order_by("id").values_list("password_hash", flat=True))
    assert legacy_hashes_wrap_range(first_id=ranges[0][0], last_id=ranges[-1][1]) == 0
    after = list(LegacyAccount.objects.order_by("id").values_list("password_hash", flat=True))
    assert before == after


def test_wrap_never_overwrites_a_hash_changed_meanwhile(service, write_csv, monkeypatch):
    from migration import hashes

    legacy_accounts_import(service_code=service.code, path=write_csv(_rows(1)), start_wrap=False)
    account = LegacyAccount.objects.get()
    newer = ph.hex_md5.hash("changed")
    real_wrap = hashes.wrap

    def wrap_while_reimported(scheme, legacy):
        # A newer export lands while this (slow) batch is hashing.
        LegacyAccount.objects.filter(pk=account.pk).update(password_hash=newer)
        return real_wrap(scheme, legacy)

    monkeypatch.setattr(hashes, "wrap", wrap_while_reimported)
    assert legacy_hashes_wrap_range(first_id=account.pk, last_id=account.pk) == 0
    account.refresh_from_db()
    assert account.password_hash == newer and not account.hash_wrapped
