"""The last-main-user rule under concurrency: two main users try to remove each other at the
same moment. Without the organization row lock both would see "another main user exists"
and the organization would end up with none."""

from __future__ import annotations

import threading

import pytest
from django.db import connection

from kernel.errors import ApplicationError
from organizations import services
from organizations.models import Membership

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def _race(calls):
    barrier = threading.Barrier(len(calls))
    results: list = [None] * len(calls)

    def run(i, fn):
        try:
            barrier.wait(timeout=10)
            fn()
            results[i] = "ok"
        except ApplicationError as exc:
            results[i] = exc.code
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(i, fn)) for i, fn in enumerate(calls)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    return results


def _active_main_users(org):
    return Membership.objects.filter(
        organization=org, role=Membership.Role.MAIN_USER, status=Membership.Status.ACTIVE
    ).count()


@pytest.mark.parametrize("attempt", range(3))
def test_two_main_users_removing_each_other_keeps_one(org, add_member, attempt):
    a = Membership.objects.get(organization=org, user=org.main_user)
    b = add_member(org, role=Membership.Role.MAIN_USER)
    results = _race(
        [
            lambda: services.membership_remove(membership=b, actor=a.user),
            lambda: services.membership_remove(membership=a, actor=b.user),
        ]
    )
    assert sorted(results) == ["last_main_user", "ok"]
    assert _active_main_users(org) == 1


def test_concurrent_demote_and_leave_keeps_one(org, add_member):
    a = Membership.objects.get(organization=org, user=org.main_user)
    b = add_member(org, role=Membership.Role.MAIN_USER)
    results = _race(
        [
            lambda: services.membership_role_change(membership=a, role="member", actor=b.user),
            lambda: services.membership_leave(membership=b, actor=b.user),
        ]
    )
    assert sorted(results) == ["last_main_user", "ok"]
    assert _active_main_users(org) == 1
