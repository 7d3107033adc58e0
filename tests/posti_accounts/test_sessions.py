"""Session tracking, "log out my other sessions", password change, idle/absolute timeouts."""

from __future__ import annotations

import time

import pytest
from django.contrib.sessions.models import Session
from django.test import Client
from django.urls import reverse

from posti_accounts.middleware import SESSION_ACTIVITY, SESSION_STARTED
from posti_accounts.models import AuditEvent, UserSession
from tests.posti_accounts._auth_helpers import CommittingClient

pytestmark = pytest.mark.django_db

FIREFOX = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"
IPHONE = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1"
)
NEW_PASSWORD = "changed-passphrase-for-test-1"


@pytest.fixture
def make_client(django_capture_on_commit_callbacks):
    def _make(ua: str = FIREFOX, ip: str = "192.0.2.10") -> Client:
        c = CommittingClient(HTTP_USER_AGENT=ua, REMOTE_ADDR=ip)
        c.capture = django_capture_on_commit_callbacks
        return c

    return _make


def _login(c, user, password):
    c.post(reverse("account_login"), {"login": user.email, "password": password})
    assert c.session["_auth_user_id"] == str(user.pk)


def test_login_records_session_with_device(make_client, user, password):
    c = make_client(IPHONE, "198.51.100.7")
    _login(c, user, password)
    row = UserSession.objects.get(user=user)
    assert row.session_key == c.session.session_key
    assert str(row.ip_address) == "198.51.100.7"
    assert "Safari" in row.device_description and "iOS" in row.device_description
    page = c.get(reverse("posti_accounts:sessions")).content.decode()
    assert "198.51.100.7" in page and row.device_description in page
    assert c.session.session_key not in page  # the key is a credential: never shown


def test_log_out_other_sessions(make_client, user, password):
    first, second, third = make_client(), make_client(IPHONE), make_client()
    for c in (first, second, third):
        _login(c, user, password)
    assert UserSession.objects.filter(user=user).count() == 3
    response = first.post(reverse("posti_accounts:sessions"))
    assert response.status_code == 302
    assert first.get(reverse("posti_accounts:sessions")).status_code == 200
    for other in (second, third):
        response = other.get(reverse("posti_accounts:sessions"))
        assert response.status_code == 302 and "/accounts/login/" in response["Location"]
    assert list(UserSession.objects.filter(user=user).values_list("session_key", flat=True)) == [
        first.session.session_key
    ]
    event = AuditEvent.objects.get(action="sessions.revoked", target_user=user)
    assert event.details["count"] == 2


def test_password_change_ends_all_sessions(make_client, user, password):
    mine, other = make_client(), make_client(IPHONE)
    _login(mine, user, password)
    _login(other, user, password)
    other_key = other.session.session_key
    mine.post(reverse("account_reauthenticate"), {"password": password})
    response = mine.post(
        reverse("account_change_password"),
        {"oldpassword": password, "password1": NEW_PASSWORD, "password2": NEW_PASSWORD},
    )
    assert response.status_code == 302
    user.refresh_from_db()
    assert user.check_password(NEW_PASSWORD)
    assert "_auth_user_id" not in other.session
    assert other.get(reverse("posti_accounts:sessions")).status_code == 302
    assert "_auth_user_id" not in mine.session
    assert not UserSession.objects.filter(user=user).exists()
    assert not Session.objects.filter(session_key=other_key).exists()


def _age_session(c, *, started=0, activity=0):
    session = c.session
    session[SESSION_STARTED] = session[SESSION_STARTED] - started
    session[SESSION_ACTIVITY] = session[SESSION_ACTIVITY] - activity
    session.save()


def test_idle_timeout_logs_out(make_client, user, password, settings):
    c = make_client()
    _login(c, user, password)
    _age_session(c, activity=settings.SESSION_IDLE_TIMEOUT - 5)
    assert c.get(reverse("posti_accounts:sessions")).status_code == 200  # still active
    _age_session(c, activity=settings.SESSION_IDLE_TIMEOUT + 1)
    response = c.get(reverse("posti_accounts:sessions"))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("account_login"))
    assert "_auth_user_id" not in c.session
    page = c.get(response["Location"])
    assert any(m.message for m in page.context["messages"])
    assert AuditEvent.objects.filter(action="session.expired", details__reason="idle").exists()


def test_activity_keeps_session_alive(make_client, user, password, settings):
    c = make_client()
    _login(c, user, password)
    _age_session(c, activity=settings.SESSION_IDLE_TIMEOUT - 5)
    c.get(reverse("posti_accounts:sessions"))  # activity refreshes the idle clock
    assert abs(c.session[SESSION_ACTIVITY] - time.time()) < 5


def test_absolute_timeout_logs_out_even_when_active(make_client, user, password, settings):
    c = make_client()
    _login(c, user, password)
    _age_session(c, started=settings.SESSION_ABSOLUTE_TIMEOUT + 1)
    response = c.get(reverse("posti_accounts:sessions"))
    assert response.status_code == 302
    assert "_auth_user_id" not in c.session
    assert AuditEvent.objects.filter(action="session.expired", details__reason="absolute").exists()


@pytest.mark.parametrize("count", [3, 30])
def test_sessions_page_query_count(
    make_client, user, password, count, django_assert_max_num_queries
):
    from django.utils import timezone

    UserSession.objects.bulk_create(
        [
            UserSession(
                user=user, session_key=f"k{i:038d}", user_agent=FIREFOX, last_seen_at=timezone.now()
            )
            for i in range(count)
        ]
    )
    c = make_client()
    _login(c, user, password)
    c.get(reverse("posti_accounts:sessions"))
    with django_assert_max_num_queries(8):
        response = c.get(reverse("posti_accounts:sessions"))
    assert response.status_code == 200
    assert len(response.context["user_sessions"]) == count + 1


def test_stale_sessions_are_hidden_and_pruned(user, settings):
    from datetime import timedelta

    from django.utils import timezone

    from posti_accounts.sessions import user_sessions_list
    from posti_accounts.tasks import user_sessions_prune

    now = timezone.now()
    UserSession.objects.create(user=user, session_key="fresh", last_seen_at=now)
    UserSession.objects.create(
        user=user,
        session_key="stale",
        last_seen_at=now - timedelta(seconds=settings.SESSION_IDLE_TIMEOUT + 600),
    )
    assert [s.session_key for s in user_sessions_list(user=user)] == ["fresh"]
    assert user_sessions_prune.delay().get() == 1
    assert list(UserSession.objects.values_list("session_key", flat=True)) == ["fresh"]
    assert user_sessions_prune() == 0
