"""2FA, required actions and sessions."""

from __future__ import annotations

from functools import wraps

from allauth.account.adapter import get_adapter
from allauth.account.decorators import reauthentication_required
from allauth.account.internal.decorators import login_stage_required
from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core import signing
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import path, reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_http_methods
from django_otp import login as otp_login

from kernel.errors import ApplicationError

from .. import twofactor
from ..forms import NewPasswordForm, TotpConfirmForm, TwoFactorCodeForm
from ..middleware import ACTION_URL_NAMES
from ..models import RequiredAction
from ..services import user_details_confirm, user_email_verified, user_password_set
from ..sessions import (
    session_proof_record,
    session_recently_authenticated,
    user_sessions_end,
    user_sessions_list,
)
from ..stages import STAGE_KEY

MSG_2FA_ENABLED = _("Two-factor authentication is now on.")
MSG_2FA_REMOVED = _("Two-factor authentication has been removed.")
MSG_SESSIONS_ENDED = _("You have been logged out of your other sessions.")
MSG_VERIFY_SENT = _("We sent a confirmation link to %(email)s.")
MSG_VERIFY_LINK_INVALID = _("The confirmation link is invalid or has expired. Ask for a new one.")
MSG_EMAIL_VERIFIED = _("Your email address has been confirmed.")
MSG_PASSWORD_SET = _("Your new password has been saved.")
MSG_DETAILS_CONFIRMED = _("Thank you. Your details have been confirmed.")

BACKUP_CODES_SESSION_KEY = "_2fa_new_backup_codes"
VERIFY_SALT = "posti_accounts.action_verify_email"
VERIFY_MAX_AGE = 3 * 24 * 3600


def recent_authentication_required(view):
    """allauth's `reauthentication_required`, except that a login in this session within
    ACCOUNT_REAUTHENTICATION_TIMEOUT counts (allauth counts only a re-entered password): a
    person who has just logged in is not asked for the password again."""
    guarded = reauthentication_required(view)

    @wraps(view)
    def wrapper(request: HttpRequest, *args, **kwargs):
        if request.user.is_authenticated and session_recently_authenticated(request=request):
            return view(request, *args, **kwargs)
        return guarded(request, *args, **kwargs)

    return wrapper


def _next_step(request: HttpRequest) -> HttpResponse:
    """After one required action, go to the next one, or to where the user was going."""
    pending = request.user.required_actions
    if pending:
        return redirect(ACTION_URL_NAMES[pending[0]])
    return redirect(settings.LOGIN_REDIRECT_URL)


# --- Login stage ------------------------------------------------------------------------------
@login_stage_required(stage=STAGE_KEY, redirect_urlname="account_login")
@require_http_methods(["GET", "POST"])
def twofactor_authenticate(request: HttpRequest) -> HttpResponse:
    stage = request._login_stage
    user = stage.login.user
    form = TwoFactorCodeForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            device = twofactor.twofactor_verify(
                user=user, code=form.cleaned_data["code"], request=request
            )
        except ApplicationError as exc:
            form.add_error("code", exc.message)
        else:
            response = stage.exit()
            if request.user.is_authenticated:
                otp_login(request, device)
            return response
    return render(request, "posti_accounts/security/twofactor_authenticate.html", {"form": form})


# --- 2FA management ---------------------------------------------------------------------------
@login_required
def twofactor_overview(request: HttpRequest) -> HttpResponse:
    enabled = twofactor.user_has_2fa(request.user)
    context = {
        "enabled": enabled,
        "backup_codes_remaining": (
            twofactor.backup_codes_remaining(user=request.user) if enabled else 0
        ),
    }
    return render(request, "posti_accounts/security/twofactor.html", context)


@login_required
@recent_authentication_required
@require_http_methods(["GET", "POST"])
def twofactor_setup(request: HttpRequest) -> HttpResponse:
    if twofactor.user_has_2fa(request.user):
        return redirect("posti_accounts:twofactor")
    form = TotpConfirmForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            codes = twofactor.totp_setup_confirm(
                user=request.user, code=form.cleaned_data["code"], request=request
            )
        except ApplicationError as exc:
            form.add_error("code", exc.message)
        else:
            request.session[BACKUP_CODES_SESSION_KEY] = codes
            messages.success(request, MSG_2FA_ENABLED)
            return redirect("posti_accounts:twofactor_backup_codes")
    setup = twofactor.totp_setup_start(user=request.user)
    response = render(
        request,
        "posti_accounts/security/twofactor_setup.html",
        {"form": form, "secret": setup.secret, "qr_svg": setup.qr_svg},
    )
    response["Cache-Control"] = "no-store"  # the page holds the TOTP secret
    return response


@login_required
@require_http_methods(["GET", "POST"])
def twofactor_backup_codes(request: HttpRequest) -> HttpResponse:
    if not twofactor.user_has_2fa(request.user):
        return redirect("posti_accounts:twofactor")
    if request.method == "POST":
        return _backup_codes_regenerate(request)
    # New codes are shown exactly once: popped from the session as they are displayed.
    codes = request.session.pop(BACKUP_CODES_SESSION_KEY, None)
    next_url = request.session.pop(twofactor.SETUP_NEXT_SESSION_KEY, None) if codes else None
    if next_url and not url_has_allowed_host_and_scheme(
        next_url, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        next_url = None
    context = {
        "next_url": next_url,
        "codes": codes,
        "codes_text": _backup_codes_text(request, codes) if codes else "",
        "remaining": twofactor.backup_codes_remaining(user=request.user),
    }
    response = render(request, "posti_accounts/security/twofactor_backup_codes.html", context)
    response["Cache-Control"] = "no-store"
    return response


def _backup_codes_text(request: HttpRequest, codes: list[str]) -> str:
    """The codes as a small text file to download (built in the page: nothing stored)."""
    lines = [
        str(_("Backup codes for %(email)s") % {"email": request.user.email}),
        str(_("Each code can be used once, instead of the code from the app.")),
        "",
        *codes,
        "",
    ]
    return "\r\n".join(lines)


@recent_authentication_required
def _backup_codes_regenerate(request: HttpRequest) -> HttpResponse:
    codes = twofactor.backup_codes_regenerate(user=request.user, request=request)
    request.session[BACKUP_CODES_SESSION_KEY] = codes
    return redirect("posti_accounts:twofactor_backup_codes")


@login_required
@reauthentication_required
@require_http_methods(["GET", "POST"])
def twofactor_remove(request: HttpRequest) -> HttpResponse:
    if not twofactor.user_has_2fa(request.user):
        return redirect("posti_accounts:twofactor")
    if request.method == "POST":
        twofactor.twofactor_remove(user=request.user, actor=request.user, request=request)
        messages.success(request, MSG_2FA_REMOVED)
        return redirect("posti_accounts:twofactor")
    return render(request, "posti_accounts/security/twofactor_remove.html")


# --- Sessions --------------------------------------------------------------------------------
@login_required
@require_http_methods(["GET", "POST"])
def sessions(request: HttpRequest) -> HttpResponse:
    if request.method == "POST":
        user_sessions_end(user=request.user, actor=request.user, request=request, keep_current=True)
        messages.success(request, MSG_SESSIONS_ENDED)
        return redirect("posti_accounts:sessions")
    rows = list(user_sessions_list(user=request.user)[:50])
    return render(
        request,
        "posti_accounts/security/sessions.html",
        {"user_sessions": rows, "current_key": request.session.session_key},
    )


# --- Required actions -------------------------------------------------------------------------
def _verify_link(request: HttpRequest, user) -> str:
    token = signing.dumps({"u": user.pk, "e": user.email}, salt=VERIFY_SALT)
    # Emailed: built from SITE_URL like every link in an email, not the request's host.
    return settings.SITE_URL.rstrip("/") + reverse(
        "posti_accounts:action_verify_email_confirm", args=[token]
    )


@login_required
@require_http_methods(["GET", "POST"])
def action_verify_email(request: HttpRequest) -> HttpResponse:
    user = request.user
    if RequiredAction.VERIFY_EMAIL not in user.required_actions:
        return _next_step(request)
    if request.method == "POST":
        adapter = get_adapter(request)
        adapter.send_mail(
            "account/email/email_confirmation",
            user.email,
            {"user": user, "activate_url": _verify_link(request, user), "key": ""},
        )
        messages.info(request, MSG_VERIFY_SENT % {"email": user.email})
        return redirect("posti_accounts:action_verify_email")
    return render(request, "posti_accounts/security/action_verify_email.html")


@require_http_methods(["GET", "POST"])
def action_verify_email_confirm(request: HttpRequest, token: str) -> HttpResponse:
    """The emailed link. GET shows a button (mail scanners follow links); POST confirms."""
    from ..models import User

    try:
        data = signing.loads(token, salt=VERIFY_SALT, max_age=VERIFY_MAX_AGE)
        user = User.objects.get(pk=data["u"], email=data["e"], is_active=True)
    except (signing.BadSignature, User.DoesNotExist, KeyError, TypeError):
        messages.error(request, MSG_VERIFY_LINK_INVALID)
        return redirect("account_login" if not request.user.is_authenticated else "home")
    if request.method == "POST":
        user_email_verified(user=user, email=user.email, request=request)
        messages.success(request, MSG_EMAIL_VERIFIED)
        if request.user.is_authenticated and request.user.pk == user.pk:
            # The link reached the mailbox: proof enough to renew the password now.
            session_proof_record(request=request, method="email_link")
            request.user.refresh_from_db()
            return _next_step(request)
        return redirect("account_login" if not request.user.is_authenticated else "home")
    return render(
        request, "posti_accounts/security/action_verify_email_confirm.html", {"email": user.email}
    )


@login_required
@require_http_methods(["GET", "POST"])
def action_update_password(request: HttpRequest) -> HttpResponse:
    user = request.user
    if RequiredAction.UPDATE_PASSWORD not in user.required_actions:
        return _next_step(request)
    form = NewPasswordForm(
        request.POST or None,
        user=user,
        request=request,
        require_proof=not session_recently_authenticated(request=request),
    )
    if request.method == "POST" and form.is_valid():
        if "current_password" in form.fields:
            session_proof_record(request=request, method="password")
        # This browser stays logged in to finish its actions; every other session ends.
        user_password_set(user=user, password=form.cleaned_data["password1"], request=request)
        messages.success(request, MSG_PASSWORD_SET)
        return _next_step(request)
    return render(request, "posti_accounts/security/action_update_password.html", {"form": form})


@login_required
@require_http_methods(["GET", "POST"])
def action_check_details(request: HttpRequest) -> HttpResponse:
    user = request.user
    if RequiredAction.CHECK_DETAILS not in user.required_actions:
        return _next_step(request)
    if request.method == "POST":
        user_details_confirm(user=user, request=request)
        messages.success(request, MSG_DETAILS_CONFIRMED)
        return _next_step(request)
    return render(request, "posti_accounts/security/action_check_details.html")


urlpatterns = [
    path("2fa/authenticate/", twofactor_authenticate, name="twofactor_authenticate"),
    path("security/2fa/", twofactor_overview, name="twofactor"),
    path("security/2fa/setup/", twofactor_setup, name="twofactor_setup"),
    path("security/2fa/backup-codes/", twofactor_backup_codes, name="twofactor_backup_codes"),
    path("security/2fa/remove/", twofactor_remove, name="twofactor_remove"),
    path("sessions/", sessions, name="sessions"),
    path("actions/verify-email/", action_verify_email, name="action_verify_email"),
    path(
        "actions/verify-email/<str:token>/",
        action_verify_email_confirm,
        name="action_verify_email_confirm",
    ),
    path("actions/update-password/", action_update_password, name="action_update_password"),
    path("actions/check-details/", action_check_details, name="action_check_details"),
]
