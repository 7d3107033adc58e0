"""The migration app's pages for main users: the shared logins of their organization in the
old services. Organization-scoped like the organization pages: every view starts with the
permission-checked selector (404 for anyone but the organization's active main users)."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from kernel.errors import ApplicationError
from organizations.selectors import organization_get_for_main_user
from organizations.views import methods

from . import selectors
from .forms import SharedLoginInviteForm, service_choices_active
from .services import shared_login_resolve


def _render(request: HttpRequest, organization, bound: SharedLoginInviteForm | None = None):
    items = selectors.shared_logins_open(organization=organization)
    choices = service_choices_active()  # one query for all the forms
    forms = [
        bound
        if bound is not None and bound.handover.pk == item.pk
        else SharedLoginInviteForm(handover=item, service_choices=choices)
        for item in items
    ]
    return render(
        request,
        "migration/shared_logins.html",
        {"organization": organization, "items": list(zip(items, forms, strict=True))},
    )


@login_required
@methods("GET")
def shared_logins(request: HttpRequest, organization_id: int) -> HttpResponse:
    organization = organization_get_for_main_user(
        user=request.user, organization_id=organization_id
    )
    return _render(request, organization)


@login_required
@methods("POST")
def shared_login_invite(request: HttpRequest, organization_id: int, handover_id: int):
    handover = selectors.shared_login_get_for_main_user(
        user=request.user, organization_id=organization_id, handover_id=handover_id
    )
    form = SharedLoginInviteForm(request.POST, handover=handover)
    if form.is_valid():
        try:
            invited = shared_login_resolve(
                handover=handover,
                emails=form.email_list(),
                service_codes=form.cleaned_data["services"],
                actor=request.user,
                request=request,
            )
        except ApplicationError as exc:
            form.add_error("emails", str(exc.message))
        else:
            messages.success(
                request,
                ngettext(
                    "%(count)d invitation sent; the shared login %(username)s is handled.",
                    "%(count)d invitations sent; the shared login %(username)s is handled.",
                    invited,
                )
                % {"count": invited, "username": handover.account.username},
            )
            return redirect("migration:shared_logins", organization_id=handover.organization_id)
    messages.error(request, _("Nothing was sent: correct the addresses below."))
    return _render(request, handover.organization, form)
