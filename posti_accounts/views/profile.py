"""Omat tiedot (My details): the one place where a person keeps their own details."""

from __future__ import annotations

import json

from django.contrib import messages
from django.contrib.auth import get_user_model
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import path
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST
from django_otp import devices_for_user

from .. import selectors, services
from ..phone import phone_display
from ..profile_forms import DetailsForm

RECENT_EVENTS = 10
EVENTS_PER_PAGE = 50


def _has_2fa(user) -> bool:
    return any(True for _device in devices_for_user(user, confirmed=True))


@login_required
def profile(request: HttpRequest) -> HttpResponse:
    user = request.user
    context = {
        "phone_display": phone_display(user.phone),
        "email_verified": selectors.user_primary_email_verified(user=user),
        "has_2fa": _has_2fa(user),
        "events": list(selectors.user_security_events(user=user)[:RECENT_EVENTS]),
    }
    return render(request, "posti_accounts/profile/profile.html", context)


@login_required
@require_http_methods(["GET", "POST"])
def details_edit(request: HttpRequest) -> HttpResponse:
    user = request.user
    form = DetailsForm(request.POST or None, instance=user)
    if request.method == "POST" and form.is_valid():
        # ModelForm.is_valid() wrote the cleaned values onto `user`; hand the service a fresh
        # copy so it can compare old and new values for the audit event.
        fresh = get_user_model().objects.get(pk=user.pk)
        changed = services.user_details_update(
            user=fresh,
            actor=fresh,
            request=request,
            **{name: form.cleaned_data[name] for name in DetailsForm.Meta.fields},
        )
        if "preferred_language" in changed:
            # The message below in the new language; UserLanguageMiddleware applies it (and
            # its cookie) from the next request on.
            translation.activate(fresh.preferred_language)
        messages.success(request, _("Your details were saved.") if changed else _("No changes."))
        return redirect("posti_accounts:profile")
    if request.method == "POST":
        user.refresh_from_db()
    return render(request, "posti_accounts/profile/details_edit.html", {"form": form})


@login_required
@require_POST
def details_confirm(request: HttpRequest) -> HttpResponse:
    services.user_details_confirm(user=request.user, request=request)
    messages.success(request, _("Thank you! Your details are confirmed."))
    return redirect("posti_accounts:profile")


@login_required
def security_events(request: HttpRequest) -> HttpResponse:
    page = Paginator(selectors.user_security_events(user=request.user), EVENTS_PER_PAGE).get_page(
        request.GET.get("page")
    )
    return render(request, "posti_accounts/profile/events.html", {"page": page})


@login_required
@require_POST
def data_export(request: HttpRequest) -> HttpResponse:
    data = selectors.user_export_data(user=request.user)
    from ..audit import audit_event_record

    audit_event_record(
        actor=request.user,
        action="data.exported",
        target_user=request.user,
        request=request,
        details={},
    )
    stamp = timezone.now().strftime("%Y%m%d")
    response = HttpResponse(
        json.dumps(data, ensure_ascii=False, indent=2), content_type="application/json"
    )
    response["Content-Disposition"] = f'attachment; filename="my-data-{stamp}.json"'
    return response


urlpatterns = [
    path("", profile, name="profile"),
    path("details/", details_edit, name="details_edit"),
    path("details/confirm/", details_confirm, name="details_confirm"),
    path("events/", security_events, name="events"),
    path("export/", data_export, name="export"),
]
