"""The action links of campaign emails (`/n/a/<token>/`).

Opening a link (GET) only shows a page; the single-use step happens on POST, so mail
scanners that prefetch links do not use them up. After a verify_and_renew link the person
may set a new password once, for a short while, in this browser session. The link proves
only access to the mailbox (it may have been forwarded), so:
- they are not logged in by it;
- an account with two-factor authentication must also give a code to set the password;
- the link is refused if the account's address has changed since it was sent;
- the account owner is notified by email when the password is changed, and changing it
  ends the account's other sessions.
Error pages are not logged with their path: it holds the (spent or unknown) token.
"""

from __future__ import annotations

import time

from allauth.account.adapter import get_adapter
from django.contrib import messages
from django.contrib.auth import get_user_model
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import translation
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods

from kernel.errors import ApplicationError
from posti_accounts.twofactor import twofactor_verify, user_has_2fa

from . import services
from .forms import NewPasswordForm
from .models import Campaign

LANGUAGES = ("fi", "sv", "en")
SESSION_KEY = "notifications_password_user"
PASSWORD_STEP_SECONDS = 15 * 60


def _invalid(request: HttpRequest, exc: ApplicationError) -> HttpResponse:
    response = render(
        request,
        "notifications/link_invalid.html",
        {"message": exc.message, "code": exc.code},
        status=410 if exc.code in ("link_used", "link_expired") else 404,
    )
    # Django logs every 4xx response with its path, and the path holds the token.
    response._has_been_logged = True
    return response


@never_cache
@require_http_methods(["GET", "POST"])
def action_link(request: HttpRequest, token: str) -> HttpResponse:
    try:
        row = services.action_token_get(token=token)
    except ApplicationError as exc:
        return _invalid(request, exc)
    campaign = row.delivery.campaign
    if campaign.kind != Campaign.Kind.VERIFY_AND_RENEW:
        # check_details: the confirm step is in Omat tiedot, behind login.
        return redirect("posti_accounts:action_check_details")
    if request.method == "GET":
        return render(
            request, "notifications/link_confirm.html", {"email": row.delivery.user.email}
        )
    try:
        user = services.action_link_use(token=token, request=request)
    except ApplicationError as exc:
        return _invalid(request, exc)
    request.session[SESSION_KEY] = {"user": user.pk, "until": time.time() + PASSWORD_STEP_SECONDS}
    messages.success(request, _("Thank you, your email address is now verified."))
    return redirect("notifications:password_set")


@never_cache
@require_http_methods(["GET", "POST"])
def password_set(request: HttpRequest) -> HttpResponse:
    grant = request.session.get(SESSION_KEY) or {}
    if not grant or grant.get("until", 0) < time.time():
        request.session.pop(SESSION_KEY, None)
        return _invalid(request, ApplicationError(services.MSG_LINK_EXPIRED, code="link_expired"))
    user = get_user_model().objects.filter(pk=grant["user"], is_active=True).first()
    if user is None:
        return _invalid(request, ApplicationError(services.MSG_LINK_INVALID, code="link_invalid"))
    form = NewPasswordForm(user, request.POST or None, otp_required=user_has_2fa(user))
    if request.method == "POST" and form.is_valid():
        try:
            if "otp_code" in form.fields:
                twofactor_verify(user=user, code=form.cleaned_data["otp_code"], request=request)
        except ApplicationError as exc:
            form.add_error("otp_code", exc.message)
        else:
            services.campaign_link_password_set(
                user=user, password=form.cleaned_data["new_password1"], request=request
            )
            request.session.pop(SESSION_KEY, None)
            get_adapter(request).send_notification_mail("account/email/password_changed", user)
            messages.success(request, _("Your new password is set. You can now log in."))
            return redirect("account_login")
    return render(request, "notifications/password_set.html", {"form": form, "email": user.email})


@never_cache
@require_http_methods(["GET"])
def preview_link(request: HttpRequest) -> HttpResponse:
    """Where the link of a preview or a test email leads: a page that says so, in the
    language of the email (`?lang=`); it does nothing."""
    language = request.GET.get("lang", "")
    if language not in LANGUAGES:
        language = translation.get_language() or "fi"
    kind = request.GET.get("kind", "")
    kind_label = Campaign.Kind(kind).label if kind in Campaign.Kind.values else ""
    with translation.override(language):
        response = render(
            request,
            "notifications/preview.html",
            {"kind_label": str(kind_label), "preview_language": language},
        )
    response["Content-Language"] = language
    return response
