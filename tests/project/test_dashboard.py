"""The staff rollout dashboard: snapshot figures, the page, its query count, the SVG charts."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.contrib.auth.models import Permission
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from config import charts
from config.dashboard import rollout_dashboard, rollout_snapshot_take
from config.models import RolloutSnapshot
from migration.models import LegacyAccount
from notifications.models import Campaign, Delivery
from posti_accounts.models import User
from posti_accounts.services import user_create, user_details_confirm
from tests.factories import EServiceFactory

pytestmark = pytest.mark.django_db

URL = "/admin/rollout/"


def _user(n: int, **extra) -> User:
    return user_create(
        email=f"dash{n}@example.fi", password="correct-horse-battery-staple-42", **extra
    )


@pytest.fixture
def data():
    confirmed = _user(1, email_verified=True)
    user_details_confirm(user=confirmed)
    _user(2, email_verified=True)
    unverified = _user(3)
    User.objects.filter(pk=unverified.pk).update(
        password_changed_at=None, email_undeliverable_at=timezone.now()
    )
    _user(4, email_verified=True, is_staff=True)  # staff are not counted
    service = EServiceFactory(code="lahetykset")
    states = ["imported", "merged", "merged", "conflict", "retired"]
    for n, state in enumerate(states):
        LegacyAccount.objects.create(service=service, username=f"u{n}", state=state)
    campaign = Campaign.objects.create(name="P1", kind=Campaign.Kind.CHECK_DETAILS)
    Delivery.objects.create(
        campaign=campaign,
        user=confirmed,
        status=Delivery.Status.SENT,
        completed_action_at=timezone.now(),
    )
    Delivery.objects.create(campaign=campaign, user=unverified, status=Delivery.Status.FAILED)
    return {"confirmed": confirmed}


@pytest.fixture
def staff_client(client, settings):
    settings.ADMIN_REQUIRE_2FA = False
    staff = user_create(email="boss@posti.example", password="x" * 16, is_staff=True)
    staff.user_permissions.add(Permission.objects.get(codename="view_rolloutsnapshot"))
    client.force_login(User.objects.get(pk=staff.pk))
    return client


def test_snapshot_figures(data):
    figures = rollout_snapshot_take().figures
    assert figures["users"] == 3
    assert figures["details_confirmed"] == 1
    assert figures["email_verified"] == 2
    assert figures["password_renewed"] == 2
    assert figures["undeliverable"] == 1
    assert (figures["legacy_imported"], figures["legacy_merged"]) == (1, 2)
    assert (figures["legacy_conflict"], figures["legacy_retired"]) == (1, 1)
    assert figures["phases"]["check_details"] == {
        "recipients": 2,
        "sent": 1,
        "failed": 1,
        "completed": 1,
    }
    assert figures["phases"]["verify_and_renew"]["recipients"] == 0


def test_snapshot_refreshes_todays_row(data):
    first = rollout_snapshot_take()
    _user(9, email_verified=True)
    second = rollout_snapshot_take()
    assert first.pk == second.pk
    assert RolloutSnapshot.objects.count() == 1
    assert second.figures["users"] == 4


def test_history_repeats_a_missed_day(data):
    today = timezone.localdate()
    RolloutSnapshot.objects.create(day=today - timedelta(days=3), figures={"details_confirmed": 5})
    RolloutSnapshot.objects.create(day=today - timedelta(days=1), figures={"details_confirmed": 7})
    board = rollout_dashboard(days=5)
    assert board.history["details_confirmed"] == [None, 5, 5, 7, 7]
    assert board.latest.figures["details_confirmed"] == 7


def test_today_activity_from_audit_trail(data):
    board = rollout_dashboard()
    assert board.today["details.confirmed"] == 1


def test_page_shows_figures_in_a_table(staff_client, data):
    rollout_snapshot_take()
    response = staff_client.get(URL)
    assert response.status_code == 200
    body = response.content.decode()
    assert "<svg" in body and "<table" in body
    assert "<script" not in body.split("<svg", 1)[1].split("</svg>")[0]
    assert ' style="' not in body.split('<div class="rollout-dashboard">', 1)[1]
    users = dict(response.context["users"])
    assert list(users.values()) == [3, 1, 2, 2, 1]


def test_refresh_button_counts_again(staff_client, data, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        response = staff_client.post(URL)
    assert response.status_code == 302
    assert RolloutSnapshot.objects.get().figures["users"] == 3


def test_needs_staff_and_permission(client, settings, data):
    settings.ADMIN_REQUIRE_2FA = False
    assert client.get(URL).status_code == 302  # to the admin login
    plain = _user(20, is_staff=True)
    client.force_login(plain)
    assert client.get(URL).status_code == 403
    assert client.post(URL).status_code == 403
    assert not RolloutSnapshot.objects.exists()
    member = _user(21)
    client.force_login(member)
    assert client.get(URL).status_code == 302


def test_query_count_constant_at_two_sizes(staff_client, data):
    def measure() -> int:
        rollout_snapshot_take()
        with CaptureQueriesContext(connection) as ctx:
            assert staff_client.get(URL).status_code == 200
        return len(ctx.captured_queries)

    staff_client.get(URL)
    small = measure()
    for n in range(100, 160):
        _user(n, email_verified=True)
    today = timezone.localdate()
    for n in range(1, 29):
        RolloutSnapshot.objects.create(day=today - timedelta(days=n), figures={"users": n})
    large = measure()
    assert small == large
    assert large <= 8


def test_svg_escapes_labels():
    svg = charts.line_chart(
        title="<script>alert(1)</script>",
        labels=["1.1.", "2.1."],
        series=[("<b>x</b>", [1, 2])],
    )
    assert "<script>" not in svg and "&lt;script&gt;" in svg
    assert "<b>" not in svg
    bars = charts.bar_chart(title="t", bars=[('"><img src=x>', 3)])
    assert "<img" not in bars
