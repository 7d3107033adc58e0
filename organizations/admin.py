"""Operator admin for organizations. Membership changes made here go through the services, so
the last-main-user rule and the audit trail hold in the admin too."""

from __future__ import annotations

import contextlib

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Count, Q
from django.http import HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from kernel.errors import ApplicationError
from posti_accounts.models import User

from . import services
from .models import EService, Invitation, Membership, Organization
from .rollout_selectors import organization_appoint_candidates
from .validators import business_id_normalize


class _NulSafeSearchMixin:
    """PostgreSQL refuses NUL characters in text: drop them from the search box."""

    def get_search_results(self, request, queryset, search_term):
        return super().get_search_results(request, queryset, search_term.replace("\x00", ""))


@admin.register(EService)
class EServiceAdmin(_NulSafeSearchMixin, admin.ModelAdmin):
    list_display = ("code", "name_fi", "name_sv", "name_en", "requires_membership", "is_active")
    list_filter = ("is_active", "requires_membership")
    search_fields = ("code", "name_fi", "name_sv", "name_en")


class HasMainUserFilter(admin.SimpleListFilter):
    title = _("main user")
    parameter_name = "main_user"

    def lookups(self, request, model_admin):
        return [("none", _("Has no main user")), ("some", _("Has a main user"))]

    def queryset(self, request, queryset):
        if self.value() not in ("none", "some"):
            return queryset
        queryset = queryset.annotate(
            _main_users=Count(
                "memberships",
                filter=Q(
                    memberships__role=Membership.Role.MAIN_USER,
                    memberships__status=Membership.Status.ACTIVE,
                    memberships__user__is_active=True,
                ),
            )
        )
        if self.value() == "none":
            return queryset.filter(_main_users=0)
        return queryset.filter(_main_users__gt=0)


class MembershipInline(admin.TabularInline):
    model = Membership
    fk_name = "organization"
    extra = 0
    raw_id_fields = ("user",)
    fields = ("user", "role", "status", "source", "services", "added_by", "created_at")
    # Status is not edited here: "delete" removes through the service, and pending (legacy)
    # memberships become active only when the user verifies their email.
    readonly_fields = ("status", "source", "added_by", "created_at")
    show_change_link = True

    def get_queryset(self, request):
        """Main users and the newest 100 others: an organization can have 20,000 members,
        the full list is on the membership changelist (search by business ID)."""
        qs = (
            super()
            .get_queryset(request)
            .select_related("user", "added_by")
            .prefetch_related("services")
            .exclude(status=Membership.Status.REMOVED)
        )
        match = getattr(request, "resolver_match", None)
        object_id = (match.kwargs.get("object_id") if match else None) or ""
        if object_id.isdigit():
            newest = (
                Membership.objects.filter(organization_id=int(object_id))
                .exclude(status=Membership.Status.REMOVED)
                .order_by("-pk")
                .values("pk")[:100]
            )
            qs = qs.filter(Q(role=Membership.Role.MAIN_USER) | Q(pk__in=newest))
        return qs

    def formfield_for_manytomany(self, db_field, request, **kwargs):
        if db_field.name == "services":
            kwargs["widget"] = forms.CheckboxSelectMultiple
        return super().formfield_for_manytomany(db_field, request, **kwargs)


class InvitationInline(admin.TabularInline):
    model = Invitation
    extra = 0
    can_delete = False
    fields = ("email", "role", "expires_at", "invited_by", "accepted_at", "revoked_at")
    readonly_fields = fields

    def has_add_permission(self, request, obj=None):
        return False

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("invited_by")


class AppointMainUserForm(forms.Form):
    email = forms.EmailField(
        label=_("Email address of the new main user"),
        help_text=_("The person must already have an account."),
    )

    def clean_email(self):
        email = User.objects.normalize_email(self.cleaned_data["email"])
        user = User.objects.filter(email=email).first()
        if user is None:
            raise forms.ValidationError(_("No account with this email address."))
        self.user = user
        return email


class OrganizationAdminForm(forms.ModelForm):
    class Meta:
        model = Organization
        fields = ("name", "business_id", "is_active")

    def clean_business_id(self):
        # Normalized before the unique check, so "01120389" collides with "0112038-9".
        return business_id_normalize(self.cleaned_data["business_id"])


MSG_NOT_A_CANDIDATE = _("Choose one of the organization's active members.")


def _int_or_none(value) -> int | None:
    try:
        number = int(value)
    except (TypeError, ValueError):
        return None
    return number if 0 < number < 2**63 else None


@admin.register(Organization)
class OrganizationAdmin(admin.ModelAdmin):
    form = OrganizationAdminForm
    list_display = ("name", "business_id", "is_active", "created_at", "appoint_link")
    list_filter = ("is_active", HasMainUserFilter)
    search_fields = ("name", "=business_id")
    readonly_fields = ("created_at", "appoint_link", "rollout_link")
    inlines = [MembershipInline, InvitationInline]
    actions = ["appoint_main_user_action"]
    show_full_result_count = False

    @admin.display(description=_("Main user"))
    def appoint_link(self, obj):
        if not obj.pk:
            return "-"
        url = reverse("admin:organizations_organization_appoint", args=[obj.pk])
        return format_html('<a href="{}">{}</a>', url, _("Appoint a main user"))

    @admin.display(description=_("Rollout"))
    def rollout_link(self, obj):
        if not obj.pk:
            return "-"
        url = reverse("organizations:rollout", args=[obj.pk])
        return format_html('<a href="{}">{}</a>', url, _("Where the members stand"))

    def get_search_results(self, request, queryset, search_term):
        with contextlib.suppress(ValidationError):  # "01120389" finds "0112038-9"
            search_term = business_id_normalize(search_term)
        return super().get_search_results(request, queryset, search_term.replace("\x00", ""))

    def save_model(self, request, obj, form, change):
        if change:
            super().save_model(request, obj, form, change)
            return
        created = services.organization_create(
            name=obj.name, business_id=obj.business_id, actor=request.user, request=request
        )
        obj.pk = created.pk
        obj.business_id = created.business_id
        obj.created_at = created.created_at
        if not obj.is_active:
            Organization.objects.filter(pk=obj.pk).update(is_active=False)
        obj._state.adding = False
        obj._state.db = created._state.db

    def save_formset(self, request, form, formset, change):
        if formset.model is not Membership:
            formset.save()
            return
        try:
            with transaction.atomic():
                self._save_memberships(request, form.instance, formset)
        except ApplicationError as exc:
            messages.error(request, str(exc.message))

    def _save_memberships(self, request, organization, formset):
        """Route every inline change through the services (audit events, last main user)."""
        actor = request.user
        formset.save(commit=False)  # fills deleted_objects; nothing is written here
        for membership_form in formset.forms:
            if membership_form in formset.deleted_forms or not membership_form.has_changed():
                continue
            obj = membership_form.instance
            data = membership_form.cleaned_data
            chosen = list(data.get("services") or [])
            if not obj.pk:
                services.membership_create(
                    organization=organization,
                    user=data["user"],
                    role=data["role"],
                    services=chosen,
                    source=Membership.Source.ADMIN,
                    actor=actor,
                    request=request,
                )
                continue
            current = Membership.objects.get(pk=obj.pk)
            if "role" in membership_form.changed_data:
                services.membership_role_change(
                    membership=current, role=data["role"], actor=actor, request=request
                )
            if "services" in membership_form.changed_data:
                services.membership_services_set(
                    membership=current, services=chosen, actor=actor, request=request
                )
        for obj in formset.deleted_objects:
            services.membership_remove(membership=obj, actor=actor, request=request)

    @admin.action(description=_("Appoint a main user"), permissions=["change"])
    def appoint_main_user_action(self, request, queryset):
        organization = queryset.order_by("pk").first()
        if queryset.count() != 1 or organization is None:
            self.message_user(request, _("Select exactly one organization."), messages.WARNING)
            return None
        return HttpResponseRedirect(
            reverse("admin:organizations_organization_appoint", args=[organization.pk])
        )

    def get_urls(self):
        urls = super().get_urls()
        custom = [
            path(
                "<int:organization_id>/appoint-main-user/",
                self.admin_site.admin_view(self.appoint_main_user_view),
                name="organizations_organization_appoint",
            )
        ]
        return custom + urls

    def appoint_main_user_view(self, request, organization_id: int):
        organization = get_object_or_404(Organization, pk=organization_id)
        if not self.has_change_permission(request, organization):
            raise PermissionDenied
        form = AppointMainUserForm(request.POST or None)
        candidate, candidate_error = None, None
        if request.method == "POST" and request.POST.get("candidate"):
            # One click on a listed member: the membership must be an active one of this
            # organization (anything else is refused, as an unknown address would be).
            form = AppointMainUserForm()
            candidate = (
                Membership.objects.select_related("user")
                .filter(
                    organization=organization,
                    status=Membership.Status.ACTIVE,
                    pk=_int_or_none(request.POST["candidate"]),
                )
                .first()
            )
            if candidate is None:
                candidate_error = MSG_NOT_A_CANDIDATE
            else:
                form.user = candidate.user
        if request.method == "POST" and (candidate is not None or form.is_valid()):
            try:
                services.main_user_appoint(
                    organization=organization, user=form.user, actor=request.user, request=request
                )
            except ApplicationError as exc:
                if candidate is not None:
                    candidate_error = exc.message
                else:
                    form.add_error("email", str(exc.message))
            else:
                self.message_user(
                    request,
                    _("%(email)s is now a main user of %(organization)s.")
                    % {"email": form.user.email, "organization": organization.name},
                    messages.SUCCESS,
                )
                return HttpResponseRedirect(
                    reverse("admin:organizations_organization_change", args=[organization.pk])
                )
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "original": organization,
            "organization": organization,
            "candidates": organization_appoint_candidates(organization=organization),
            "candidate_error": candidate_error,
            "form": form,
            "title": _("Appoint a main user"),
        }
        return TemplateResponse(request, "organizations/admin/appoint_main_user.html", context)


@admin.register(Membership)
class MembershipAdmin(_NulSafeSearchMixin, admin.ModelAdmin):
    list_display = ("user", "organization", "role", "status", "source", "created_at")
    list_filter = ("role", "status", "source")
    search_fields = ("=user__email", "organization__name", "=organization__business_id")
    raw_id_fields = ("user", "organization", "added_by")
    list_select_related = ("user", "organization")
    readonly_fields = (
        "user",
        "organization",
        "role",
        "status",
        "source",
        "added_by",
        "created_at",
        "updated_at",
        "services",
    )
    show_full_result_count = False

    def has_add_permission(self, request):
        return False  # add members on the organization page (through the services)

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(Invitation)
class InvitationAdmin(_NulSafeSearchMixin, admin.ModelAdmin):
    list_display = ("email", "organization", "role", "expires_at", "accepted_at", "revoked_at")
    list_filter = ("role",)
    search_fields = ("=email", "organization__name", "=organization__business_id")
    raw_id_fields = ("organization", "invited_by", "accepted_by")
    list_select_related = ("organization",)
    readonly_fields = (
        "organization",
        "email",
        "role",
        "services",
        "expires_at",
        "invited_by",
        "created_at",
        "accepted_at",
        "accepted_by",
        "revoked_at",
    )
    actions = ["revoke_action"]
    show_full_result_count = False

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    @admin.action(description=_("Cancel selected invitations"), permissions=["change"])
    def revoke_action(self, request, queryset):
        count = 0
        for invitation in queryset.filter(accepted_at__isnull=True, revoked_at__isnull=True):
            services.invitation_revoke(invitation=invitation, actor=request.user, request=request)
            count += 1
        self.message_user(
            request,
            ngettext("%(count)d invitation cancelled.", "%(count)d invitations cancelled.", count)
            % {"count": count},
            messages.SUCCESS,
        )
