import io

import pytest

from migration import demo
from migration.models import LegacyAccount, MergePlan

pytestmark = pytest.mark.django_db


def test_demo_seed_is_idempotent_and_has_conflicts(django_capture_on_commit_callbacks):
    out = io.StringIO()
    with django_capture_on_commit_callbacks(execute=True):
        demo.seed(stdout=out)
    accounts = dict(LegacyAccount.objects.values_list("username", "updated_at"))
    assert len(accounts) == 11
    assert set(LegacyAccount.objects.values_list("service__code", flat=True)) == set(demo.SERVICES)
    plan = MergePlan.objects.get()
    assert plan.applied  # the demo merges its legacy set
    report = plan.report["plan"]
    # Conflicts are about people (email missing or invalid, shared mailbox); the renamed
    # organization is a warning that holds nobody back.
    assert sum(report["conflicts"].values()) >= 3
    assert report["warnings"]["organization_name_conflict"] >= 1
    with django_capture_on_commit_callbacks(execute=True):
        demo.seed(stdout=out)
    assert dict(LegacyAccount.objects.values_list("username", "updated_at")) == accounts
    assert "0 created, 0 updated, 4 unchanged" in out.getvalue()
