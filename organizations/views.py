"""Main-user and member pages. Thin: every organization-scoped view starts with a
permission-checked selector (404 for anything foreign) and every write calls one service."""

from __future__ import annotations

import csv
from functools import wraps
from urllib.parse import urlencode

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import (
    Http404,
    HttpRequest,
    HttpResponse,
    HttpResponseNotAllowed,
    StreamingHttpResponse,
)
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from kernel.errors import ApplicationError

from . import rollout_selectors, selectors, services
from .context_processors import CURRENT_ORGANIZATION_SESSION_KEY
from .forms import (
    AuditFilterForm,
    HandoverForm,
    InviteForm,
    MemberFilterForm,
    RoleForm,
    RolloutFilterForm,
    ServicesForm,
)
from .models import Membership

PAGE_SIZE = 50
# OWASP's list, plus newline and the full-width forms some spreadsheet locales also evaluate.
_FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r", "\n", "\uff1d", "\uff0b", "\uff0d", "\uff20")


def methods(*allowed: str):
    """Like `require_http_methods`, but for organization-scoped URLs the tenancy check comes
    first: someone who is not a member of the organization gets 404 for every verb, so a
    405 never confirms that a foreign organization exists."""

    def decorator(view):
        @wraps(view)
        def wrapper(request, *args, **kwargs):
            if request.method not in allowed:
                if "organization_id" in kwargs:
                    selectors.membership_get_for_member(
                        user=request.user, organization_id=kwargs["organization_id"]
                    )
                return HttpResponseNotAllowed(allowed)
            return view(request, *args, **kwargs)

        return wrapper

    return decorator


def _page(request: HttpRequest, queryset, per_page: int = PAGE_SIZE):
    return Paginator(queryset, per_page).get_page(request.GET.get("page"))


def _querystring_without_page(request: HttpRequest) -> str:
    params = request.GET.copy()
    params.pop("page", None)
    return params.urlencode()


def _error(request: HttpRequest, exc: ApplicationError) -> None:
    messages.error(request, str(exc.message))


@login_required
@methods("GET")
def organization_list(request: HttpRequest) -> HttpResponse:
    memberships = selectors.memberships_for_user(user=request.user)
    return render(request, "organizations/list.html", {"memberships": memberships})


@login_required
@methods("POST")
def organization_switch(request: HttpRequest) -> HttpResponse:
    membership = selectors.membership_get_for_member(
        user=request.user, organization_id=request.POST.get("organization")
    )
    request.session[CURRENT_ORGANIZATION_SESSION_KEY] = membership.organization_id
    return redirect("organizations:detail", organization_id=membership.organization_id)


@login_required
@methods("GET")
def organization_detail(request: HttpRequest, organization_id: int) -> HttpResponse:
    """Main users get the members page; other members see only their own membership."""
    try:
        organization = selectors.organization_get_for_main_user(
            user=request.user, organization_id=organization_id
        )
    except Http404:
        membership = selectors.membership_get_for_member(
            user=request.user, organization_id=organization_id
        )
        return render(
            request,
            "organizations/own_membership.html",
            {"membership": membership, "organization": membership.organization},
        )
    if request.session.get(CURRENT_ORGANIZATION_SESSION_KEY) != organization.pk:
        request.session[CURRENT_ORGANIZATION_SESSION_KEY] = organization.pk
    service_choices = [(s.code, s.name) for s in selectors.eservices_active()]
    form = MemberFilterForm(request.GET or None, services=service_choices)
    members = selectors.organization_members_list(organization=organization, **form.filters())
    return render(
        request,
        "organizations/members.html",
        {
            "organization": organization,
            "form": form,
            "page": _page(request, members),
            "querystring": _querystring_without_page(request),
            "export_query": urlencode({k: v for k, v in request.GET.items() if k != "page" and v}),
        },
    )


@login_required
@methods("POST")
def organization_leave(request: HttpRequest, organization_id: int) -> HttpResponse:
    membership = selectors.membership_get_for_member(
        user=request.user, organization_id=organization_id
    )
    try:
        services.membership_leave(membership=membership, actor=request.user, request=request)
    except ApplicationError as exc:
        _error(request, exc)
        return redirect("organizations:detail", organization_id=organization_id)
    if request.session.get(CURRENT_ORGANIZATION_SESSION_KEY) == membership.organization_id:
        request.session.pop(CURRENT_ORGANIZATION_SESSION_KEY, None)
    messages.success(
        request,
        _("You have left %(organization)s.") % {"organization": membership.organization.name},
    )
    return redirect("organizations:list")


@login_required
@methods("GET", "POST")
def invite(request: HttpRequest, organization_id: int) -> HttpResponse:
    organization = selectors.organization_get_for_main_user(
        user=request.user, organization_id=organization_id
    )
    form = InviteForm(request.POST or None, request.FILES or None)
    report = None
    if request.method == "POST" and form.is_valid():
        try:
            report = services.invitations_bulk_create(
                organization=organization,
                rows=form.cleaned_data["rows"],
                actor=request.user,
                request=request,
            )
        except ApplicationError as exc:
            form.add_error(None, str(exc.message))
        else:
            invited = sum(1 for r in report if r.status == services.INVITED)
            messages.success(
                request,
                ngettext("%(count)d invitation sent.", "%(count)d invitations sent.", invited)
                % {"count": invited},
            )
            form = InviteForm()
    eservices = list(selectors.eservices_active())
    names = {s.code: s.name for s in eservices}
    roles = dict(Membership.Role.choices)
    rows = [
        {
            "outcome": r,
            "role": roles.get(r.role, ""),
            "services": ", ".join(names.get(code, code) for code in r.services),
        }
        for r in report or ()
    ]
    return render(
        request,
        "organizations/invite.html",
        {
            "organization": organization,
            "form": form,
            "report": report,
            "report_rows": rows,
            "eservices": eservices,
            "roles": Membership.Role.choices,
        },
    )


@login_required
@methods("GET")
def invitation_list(request: HttpRequest, organization_id: int) -> HttpResponse:
    organization = selectors.organization_get_for_main_user(
        user=request.user, organization_id=organization_id
    )
    invitations = selectors.organization_invitations_open(organization=organization)
    return render(
        request,
        "organizations/invitations.html",
        {"organization": organization, "page": _page(request, invitations)},
    )


@login_required
@methods("POST")
def invitation_resend(request: HttpRequest, organization_id: int, invitation_id: int):
    invitation = selectors.invitation_get_for_main_user(
        user=request.user, organization_id=organization_id, invitation_id=invitation_id
    )
    try:
        services.invitation_resend(invitation=invitation, actor=request.user, request=request)
    except ApplicationError as exc:
        _error(request, exc)
    else:
        messages.success(
            request, _("The invitation to %(email)s was sent again.") % {"email": invitation.email}
        )
    return redirect("organizations:invitations", organization_id=organization_id)


@login_required
@methods("GET", "POST")
def invitation_revoke(request: HttpRequest, organization_id: int, invitation_id: int):
    """GET asks for confirmation (a plain form, no JavaScript); POST cancels."""
    invitation = selectors.invitation_get_for_main_user(
        user=request.user, organization_id=organization_id, invitation_id=invitation_id
    )
    if request.method == "GET":
        return render(
            request,
            "organizations/invitation_revoke_confirm.html",
            {"organization": invitation.organization, "invitation": invitation},
        )
    try:
        services.invitation_revoke(invitation=invitation, actor=request.user, request=request)
    except ApplicationError as exc:
        _error(request, exc)
    else:
        messages.success(
            request, _("The invitation to %(email)s was cancelled.") % {"email": invitation.email}
        )
    return redirect("organizations:invitations", organization_id=organization_id)


def _member_context(membership: Membership, **forms) -> dict:
    codes = [s.code for s in membership.services.all()]
    context = {
        "organization": membership.organization,
        "membership": membership,
        "role_form": RoleForm(initial={"role": membership.role}),
        "services_form": ServicesForm(initial={"services": codes}),
        "handover_form": HandoverForm(),
    }
    context.update(forms)
    return context


@login_required
@methods("GET")
def member_detail(request: HttpRequest, organization_id: int, membership_id: int):
    membership = selectors.membership_get_for_main_user(
        user=request.user, organization_id=organization_id, membership_id=membership_id
    )
    return render(request, "organizations/member.html", _member_context(membership))


def _member_action(request, organization_id, membership_id, form_class, form_name, action):
    """Shared POST handling: fetch with the tenancy check, validate, call one service."""
    membership = selectors.membership_get_for_main_user(
        user=request.user, organization_id=organization_id, membership_id=membership_id
    )
    form = form_class(request.POST) if form_class else None
    if form is not None and not form.is_valid():
        return render(
            request,
            "organizations/member.html",
            _member_context(membership, **{form_name: form}),
            status=400,
        )
    try:
        success = action(membership, form.cleaned_data if form is not None else {})
    except ApplicationError as exc:
        _error(request, exc)
    else:
        messages.success(request, success)
    return redirect(
        "organizations:member", organization_id=organization_id, membership_id=membership_id
    )


@login_required
@methods("POST")
def member_role(request: HttpRequest, organization_id: int, membership_id: int):
    def action(membership, data):
        services.membership_role_change(
            membership=membership, role=data["role"], actor=request.user, request=request
        )
        return _("The role was changed.")

    return _member_action(request, organization_id, membership_id, RoleForm, "role_form", action)


@login_required
@methods("POST")
def member_services(request: HttpRequest, organization_id: int, membership_id: int):
    def action(membership, data):
        services.membership_services_set(
            membership=membership,
            services=data["services"],
            actor=request.user,
            request=request,
        )
        return _("The e-services were updated.")

    return _member_action(
        request, organization_id, membership_id, ServicesForm, "services_form", action
    )


@login_required
@methods("POST")
def member_handover(request: HttpRequest, organization_id: int, membership_id: int):
    def action(membership, data):
        services.membership_handover(
            membership=membership,
            actor=request.user,
            step_down=data["step_down"],
            request=request,
        )
        return _("%(name)s is now a main user.") % {"name": membership.user.display_name}

    return _member_action(
        request, organization_id, membership_id, HandoverForm, "handover_form", action
    )


@login_required
@methods("GET", "POST")
def member_remove(request: HttpRequest, organization_id: int, membership_id: int):
    """GET asks for confirmation (a plain form, no JavaScript); POST removes."""
    membership = selectors.membership_get_for_main_user(
        user=request.user, organization_id=organization_id, membership_id=membership_id
    )
    if request.method == "GET":
        return render(
            request,
            "organizations/member_remove_confirm.html",
            {"organization": membership.organization, "membership": membership},
        )
    try:
        services.membership_remove(membership=membership, actor=request.user, request=request)
    except ApplicationError as exc:
        _error(request, exc)
        return redirect(
            "organizations:member", organization_id=organization_id, membership_id=membership_id
        )
    messages.success(
        request,
        _("%(name)s was removed from the organization.") % {"name": membership.user.display_name},
    )
    if membership.user_id == request.user.pk:
        return redirect("organizations:list")
    return redirect("organizations:detail", organization_id=organization_id)


def csv_safe(value) -> str:
    """Neutralise spreadsheet formulas: a cell starting with = + - @ tab, CR or LF (also after
    leading spaces, which some importers strip) gets a quote."""
    text = "" if value is None else str(value)
    if text.startswith(_FORMULA_PREFIXES) or text.lstrip(" ").startswith(_FORMULA_PREFIXES):
        return "'" + text
    return text


class _Echo:
    def write(self, value):
        return value


@login_required
@methods("GET")
def members_export(request: HttpRequest, organization_id: int):
    organization = selectors.organization_get_for_main_user(
        user=request.user, organization_id=organization_id
    )
    service_choices = [(s.code, s.name) for s in selectors.eservices_active()]
    form = MemberFilterForm(request.GET or None, services=service_choices)
    members = selectors.organization_members_list(organization=organization, **form.filters())
    writer = csv.writer(_Echo())

    def rows():
        yield "\ufeff" + writer.writerow(
            [
                _("Email"),
                _("First name"),
                _("Last name"),
                _("Role"),
                _("Status"),
                _("E-services"),
                _("Added"),
            ]
        )
        for m in members.iterator(chunk_size=2000):
            yield writer.writerow(
                [
                    csv_safe(m.user.email),
                    csv_safe(m.user.first_name),
                    csv_safe(m.user.last_name),
                    csv_safe(m.get_role_display()),
                    csv_safe(m.get_status_display()),
                    csv_safe(";".join(s.code for s in m.services.all())),
                    csv_safe(m.created_at.date().isoformat()),
                ]
            )

    response = StreamingHttpResponse(rows(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = (
        f'attachment; filename="members-{organization.business_id}.csv"'
    )
    return response


@login_required
@methods("GET")
def audit_trail(request: HttpRequest, organization_id: int):
    organization = selectors.organization_get_for_main_user(
        user=request.user, organization_id=organization_id
    )
    form = AuditFilterForm(request.GET or None)
    events = selectors.organization_audit_events(organization=organization, **form.filters())
    return render(
        request,
        "organizations/audit.html",
        {
            "organization": organization,
            "form": form,
            "page": _page(request, events),
            "querystring": _querystring_without_page(request),
            "service_names": {s.code: s.name for s in selectors.eservices_all()},
        },
    )


@login_required
@methods("GET")
def rollout(request: HttpRequest, organization_id: int) -> HttpResponse:
    """Where the members stand in the rollout: counts, filters, one page of members."""
    organization = rollout_selectors.organization_get_for_rollout_viewer(
        user=request.user, organization_id=organization_id
    )
    form = RolloutFilterForm(request.GET or None)
    members = rollout_selectors.organization_rollout_members(
        organization=organization, **form.filters()
    )
    return render(
        request,
        "organizations/rollout.html",
        {
            "organization": organization,
            "form": form,
            "counts": rollout_selectors.organization_rollout_counts(organization=organization),
            "page": _page(request, members),
            "querystring": _querystring_without_page(request),
        },
    )


@login_required
@methods("POST")
def rollout_remind(request: HttpRequest, organization_id: int) -> HttpResponse:
    organization = rollout_selectors.organization_get_for_rollout_viewer(
        user=request.user, organization_id=organization_id
    )
    try:
        outcome = services.rollout_reminders_send(
            organization=organization, actor=request.user, request=request
        )
    except ApplicationError as exc:
        _error(request, exc)
    else:
        messages.success(
            request,
            ngettext(
                "A reminder was sent to %(count)d member.",
                "A reminder was sent to %(count)d members.",
                outcome.sent,
            )
            % {"count": outcome.sent},
        )
        if outcome.left_over:
            messages.warning(
                request,
                ngettext(
                    "%(count)d more member can be reminded once the daily limit allows.",
                    "%(count)d more members can be reminded once the daily limit allows.",
                    outcome.left_over,
                )
                % {"count": outcome.left_over},
            )
    return redirect("organizations:rollout", organization_id=organization.pk)


def _path_not_logged(view):
    """The invitation link's path holds a live token: keep Django's request logger (which logs
    the path of every 4xx/5xx answer) from writing it to the logs (DESIGN invariant 7)."""

    @wraps(view)
    def wrapper(request, *args, **kwargs):
        response = view(request, *args, **kwargs)
        response._has_been_logged = True  # django.utils.log.log_response skips it
        return response

    return wrapper


@_path_not_logged
@methods("GET", "POST")
def invitation_accept(request: HttpRequest, token: str) -> HttpResponse:
    """The link in the invitation email. Anonymous visitors are offered login or sign-up
    (email prefilled); the invitation is remembered in the session and accepted once the
    user is logged in with the verified invited address."""
    try:
        invitation = services.invitation_check(token=token)
    except ApplicationError as exc:
        status = 404 if exc.code == "invitation_invalid" else 410
        return render(
            request,
            "organizations/invitation_error.html",
            {"message": exc.message},
            status=status,
        )
    here = request.get_full_path()
    if not url_has_allowed_host_and_scheme(here, allowed_hosts={request.get_host()}):
        here = reverse("organizations:list")
    if not request.user.is_authenticated:
        request.session[services.PENDING_INVITATION_SESSION_KEY] = invitation.token_hash
        return render(
            request,
            "organizations/invitation_accept.html",
            {
                "invitation": invitation,
                "login_url": reverse("account_login") + "?" + urlencode({"next": here}),
                "signup_url": reverse("account_signup")
                + "?"
                + urlencode({"email": invitation.email, "next": here}),
            },
        )
    if request.method == "POST":
        try:
            membership = services.invitation_accept(token=token, user=request.user, request=request)
        except ApplicationError as exc:
            _error(request, exc)
            return redirect(request.path)
        request.session.pop(services.PENDING_INVITATION_SESSION_KEY, None)
        request.session[CURRENT_ORGANIZATION_SESSION_KEY] = membership.organization_id
        messages.success(
            request,
            _("Welcome to %(organization)s.") % {"organization": invitation.organization.name},
        )
        return redirect("organizations:detail", organization_id=membership.organization_id)
    wrong_user = invitation.email.lower() != request.user.email
    return render(
        request,
        "organizations/invitation_accept.html",
        {
            "invitation": invitation,
            "wrong_user": wrong_user,
            "wrong_user_message": services.MSG_INVITATION_OTHER_EMAIL,
        },
        status=403 if wrong_user else 200,
    )
