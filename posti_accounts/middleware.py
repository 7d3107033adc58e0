"""Project middleware: session timeouts and tracking, the user's language, required actions."""

from __future__ import annotations

import time

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import logout
from django.contrib.messages.storage import default_storage
from django.http import HttpRequest, HttpResponseRedirect
from django.urls import reverse
from django.utils import translation
from django.utils.http import urlencode
from django.utils.translation import gettext_lazy as _

from .audit import audit_event_record
from .models import RequiredAction
from .sessions import user_session_forget, user_session_touch

MSG_SESSION_EXPIRED = _("Your session has ended. Please log in again.")

SESSION_STARTED = "_auth_started"
SESSION_ACTIVITY = "_auth_activity"
# Idle time is recorded at most this often (seconds), so most requests don't write the session.
ACTIVITY_RESOLUTION = 30

# Requests that never go through the browser flows: OIDC/API endpoints used by e-services.
NON_BROWSER_PREFIXES = (
    "/o/token/",
    "/o/userinfo/",
    "/o/.well-known/",
    "/o/revoke_token/",
    "/o/introspect/",
    "/api/",
)


class SessionTimeoutMiddleware:
    """Ends a logged-in session after SESSION_IDLE_TIMEOUT seconds without requests or
    SESSION_ABSOLUTE_TIMEOUT seconds after login, and keeps `UserSession.last_seen_at`."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest):
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated and hasattr(request, "session"):
            now = int(time.time())
            session = request.session
            started = session.get(SESSION_STARTED)
            activity = session.get(SESSION_ACTIVITY)
            if started is None:
                session[SESSION_STARTED] = started = now
            if activity is None:
                session[SESSION_ACTIVITY] = activity = now
            idle = now - activity > settings.SESSION_IDLE_TIMEOUT
            expired = now - started > settings.SESSION_ABSOLUTE_TIMEOUT
            if idle or expired:
                return self._expire(request, reason="idle" if idle else "absolute")
            if now - activity >= ACTIVITY_RESOLUTION:
                session[SESSION_ACTIVITY] = now
            user_session_touch(request=request)
        return self.get_response(request)

    def _expire(self, request: HttpRequest, *, reason: str):
        user = request.user
        key = request.session.session_key
        audit_event_record(
            actor=None,
            action="session.expired",
            target_user=user,
            request=request,
            details={"reason": reason},
        )
        logout(request)
        user_session_forget(session_key=key)
        if request.path.startswith(NON_BROWSER_PREFIXES):
            return self.get_response(request)
        # MessageMiddleware runs after us, so store the message with our own storage.
        storage = default_storage(request)
        storage.add(messages.INFO, MSG_SESSION_EXPIRED)
        login_url = reverse("account_login")
        if request.method == "GET":
            login_url += "?" + urlencode({"next": request.get_full_path()})
        response = HttpResponseRedirect(login_url)
        storage.update(response)
        return response


class UserLanguageMiddleware:
    """A logged-in user sees the portal in their preferred language; the language switcher
    (POST /i18n/setlang/) also stores the choice on their account."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest):
        user = getattr(request, "user", None)
        if user is None or not user.is_authenticated:
            return self.get_response(request)
        available = {code for code, _name in settings.LANGUAGES}
        if request.method == "POST" and request.path == reverse("set_language"):
            chosen = request.POST.get("language", "")
            if chosen in available and chosen != user.preferred_language:
                old = user.preferred_language
                user.preferred_language = chosen
                user.save(update_fields=["preferred_language"])
                audit_event_record(
                    actor=user,
                    action="profile.language_changed",
                    target_user=user,
                    request=request,
                    details={"old": old, "new": chosen},
                )
            return self.get_response(request)
        language = user.preferred_language
        if language in available:
            translation.activate(language)
            request.LANGUAGE_CODE = language
        response = self.get_response(request)
        # Keep the cookie in step so pages after logout stay in the same language.
        cookie = settings.LANGUAGE_COOKIE_NAME
        if language in available and request.COOKIES.get(cookie) != language:
            response.set_cookie(
                cookie,
                language,
                max_age=settings.LANGUAGE_COOKIE_AGE,
                path=settings.LANGUAGE_COOKIE_PATH,
                domain=settings.LANGUAGE_COOKIE_DOMAIN,
                secure=settings.LANGUAGE_COOKIE_SECURE,
                httponly=settings.LANGUAGE_COOKIE_HTTPONLY,
                samesite=settings.LANGUAGE_COOKIE_SAMESITE,
            )
        return response


ACTION_URL_NAMES = {
    RequiredAction.VERIFY_EMAIL: "posti_accounts:action_verify_email",
    RequiredAction.UPDATE_PASSWORD: "posti_accounts:action_update_password",
    RequiredAction.CHECK_DETAILS: "posti_accounts:action_check_details",
}

# Always reachable while actions are pending.
_EXEMPT_PREFIXES = (
    "/i18n/",
    "/accounts/logout/",
    "/o/logout/",
    "/accounts/confirm-email/",
    "/accounts/password/reset/",
    "/accounts/reauthenticate/",
    "/profile/actions/",
    "/help/",  # the help page, for whoever is stuck on a required action
    *NON_BROWSER_PREFIXES,
)
# Also reachable while a given action is pending: the pages that help complete it (changing
# a wrong address before verifying it; editing one's details while checking them).
_ACTION_PREFIXES: dict[str, tuple[str, ...]] = {
    RequiredAction.VERIFY_EMAIL: ("/accounts/email/",),
    RequiredAction.UPDATE_PASSWORD: (),
    RequiredAction.CHECK_DETAILS: ("/profile/", "/accounts/email/", "/accounts/password/change/"),
}


class RequiredActionsMiddleware:
    """Sends a logged-in user with pending required actions to complete them, one after
    another, before any other page."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest):
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated:
            pending = user.required_actions
            # Staff keep the admin while a campaign they run asks them too (issue 16).
            staff_admin = user.is_staff and request.path.startswith("/admin/")
            if pending and not staff_admin and not self._exempt(request, pending[0]):
                return HttpResponseRedirect(reverse(ACTION_URL_NAMES[pending[0]]))
        return self.get_response(request)

    @staticmethod
    def _exempt(request: HttpRequest, action: str) -> bool:
        path = request.path
        if settings.STATIC_URL and path.startswith(settings.STATIC_URL):
            return True
        if path.startswith(_EXEMPT_PREFIXES):
            return True
        prefixes = _ACTION_PREFIXES.get(action, ())
        return bool(prefixes) and path.startswith(prefixes)


# Pages and API routes behind a permission check: a refusal there is worth recording.
_GUARDED_PREFIXES = ("/organizations/", "/api/", "/admin/", "/profile/")


class AccessDeniedAuditMiddleware:
    """Records an `access.denied` audit event when a logged-in user is refused (403) or
    given a not-found (404: how tenancy checks refuse another organization's ids) on a
    guarded page or API route. Path and status only; never the query string."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest):
        response = self.get_response(request)
        if response.status_code in (403, 404) and request.path.startswith(_GUARDED_PREFIXES):
            user = getattr(request, "user", None)
            if user is not None and user.is_authenticated:
                audit_event_record(
                    actor=user,
                    action="access.denied",
                    target_user=None,
                    request=request,
                    details={"path": request.path[:200], "status": response.status_code},
                )
        return response
