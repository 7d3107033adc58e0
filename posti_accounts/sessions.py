"""Tracking and ending a user's logged-in sessions (the "active sessions" list).

`UserSession` mirrors rows of Django's session store. Ending a session deletes both the store
row (so the browser holding it is logged out on its next request) and the tracking row.
Ending a user's sessions also revokes every OAuth token issued to the user: an e-service's
tokens must not outlive the credentials they were granted with.
"""

from __future__ import annotations

import time
from datetime import timedelta

from allauth.account.internal.flows.login import (
    get_authentication_records,
    record_authentication,
)
from django.conf import settings
from django.contrib.sessions.models import Session
from django.db import transaction
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils import timezone
from oauth2_provider.models import get_access_token_model, get_refresh_token_model

from .audit import audit_event_record, client_ip
from .models import User, UserSession

# Refresh `last_seen_at` at most this often, to spare the database a write per request.
LAST_SEEN_INTERVAL = timedelta(seconds=60)


def _seen_marker(key: str, now) -> str:
    return key + ":" + str(int(now.timestamp()) // 60)


def user_session_start(*, request: HttpRequest) -> None:
    """At login: the session key is brand new (Django cycles it), so just insert the row."""
    key = request.session.session_key
    if not key:
        return
    now = timezone.now()
    UserSession.objects.create(
        session_key=key,
        user=request.user,
        ip_address=client_ip(request),
        user_agent=request.META.get("HTTP_USER_AGENT", "")[:300],
        created_at=now,
        last_seen_at=now,
    )
    request.session["_us_seen"] = _seen_marker(key, now)


def user_session_touch(*, request: HttpRequest) -> None:
    """Create or refresh the tracking row of the request's session (at most once a minute)."""
    user = request.user
    session = request.session
    key = session.session_key
    if not user.is_authenticated or not key:
        return
    now = timezone.now()
    marker = _seen_marker(key, now)
    if session.get("_us_seen") == marker:
        return
    session["_us_seen"] = marker
    updated = UserSession.objects.filter(session_key=key, user=user).update(last_seen_at=now)
    if not updated:
        UserSession.objects.update_or_create(
            session_key=key,
            defaults={
                "user": user,
                "ip_address": client_ip(request),
                "user_agent": request.META.get("HTTP_USER_AGENT", "")[:300],
                "created_at": now,
                "last_seen_at": now,
            },
        )


def _alive_since():
    # A session idle longer than the idle timeout is over, even if its rows remain.
    return timezone.now() - timedelta(seconds=settings.SESSION_IDLE_TIMEOUT) - LAST_SEEN_INTERVAL


def user_sessions_list(*, user: User) -> QuerySet[UserSession]:
    return UserSession.objects.filter(user=user, last_seen_at__gte=_alive_since()).order_by(
        "-last_seen_at", "-id"
    )


def user_sessions_prune(*, batch_size: int = 5000) -> int:
    """Delete tracking rows of sessions that can no longer be alive. Returns rows deleted."""
    total = 0
    while True:
        ids = list(
            UserSession.objects.filter(last_seen_at__lt=_alive_since()).values_list(
                "pk", flat=True
            )[:batch_size]
        )
        if not ids:
            return total
        total += UserSession.objects.filter(pk__in=ids).delete()[0]


def user_oauth_tokens_revoke(*, user: User | None = None, user_ids: list[int] | None = None) -> int:
    """Revoke the refresh tokens and delete the access tokens of `user` (or of every user in
    `user_ids`): what the toolkit's `RefreshToken.revoke()` does, for all of them at once.
    Returns how many were live."""
    ids = [user.pk] if user is not None else list(user_ids or [])
    refresh = get_refresh_token_model().objects.filter(user_id__in=ids, revoked__isnull=True)
    revoked = refresh.update(revoked=timezone.now())
    access = get_access_token_model().objects.filter(user_id__in=ids)
    deleted = access.count()
    access.delete()
    return revoked + deleted


@transaction.atomic
def user_sessions_end(
    *,
    user: User,
    actor: User | None,
    request: HttpRequest | None = None,
    keep_current: bool = True,
    reason: str = "revoked",
) -> int:
    """End the user's sessions (all, or all but the request's own) and revoke all of the
    user's OAuth tokens (every e-service signs in again). Returns how many sessions ended."""
    current = request.session.session_key if (request is not None and keep_current) else None
    tracked = UserSession.objects.filter(user=user)
    if current:
        tracked = tracked.exclude(session_key=current)
    keys = list(tracked.values_list("session_key", flat=True))
    Session.objects.filter(session_key__in=keys).delete()
    tracked.delete()
    tokens = user_oauth_tokens_revoke(user=user)
    if not keys and not tokens and reason != "revoked":
        return 0  # e.g. a password change with no other session: nothing to record
    details = {"count": len(keys), "reason": reason, "kept_current": bool(current)}
    if tokens:
        details["oauth_revoked"] = tokens  # not "token": audit redacts such keys
    audit_event_record(
        actor=actor,
        action="sessions.revoked",
        target_user=user,
        request=request,
        details=details,
    )
    return len(keys)


def user_session_forget(*, session_key: str | None) -> None:
    """Drop the tracking row of a session that ended (logout, timeout)."""
    if session_key:
        UserSession.objects.filter(session_key=session_key).delete()


def session_recently_authenticated(*, request: HttpRequest) -> bool:
    """Whether this session proved the user's identity within ACCOUNT_REAUTHENTICATION_TIMEOUT:
    a login, a re-entered password, or the emailed verification link opened in it. A session
    with no such record (restored, or logged in by other means) counts as old."""
    now = time.time()
    timeout = settings.ACCOUNT_REAUTHENTICATION_TIMEOUT
    return any(
        now - float(record.get("at", 0)) < timeout
        for record in get_authentication_records(request, request.user)
    )


def session_proof_record(*, request: HttpRequest, method: str) -> None:
    """Record that this session just proved the user's identity (`method`: "password" for a
    re-entered current or legacy password, "email_link" for the emailed link)."""
    record_authentication(request, request.user, method=method, reauthenticated=True)
