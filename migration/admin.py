"""Admin: import reports, the legacy staging table, the conflict review queue, merge plans.

Legacy password hashes are never shown: the hash, salt and row digest columns are excluded
from every form and list.
"""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.http import HttpRequest, HttpResponseRedirect
from django.template.loader import render_to_string
from django.urls import path, reverse
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from kernel.errors import ApplicationError

from . import services
from .admin_reviews import OrganizationReviewItemAdmin  # noqa: F401 - registers it
from .models import (
    ImportRowError,
    ImportRun,
    LegacyAccount,
    LegacyConflict,
    MergePlan,
    SharedLoginHandover,
)
from .report import plan_sections

_SECRET_FIELDS = ["password_hash", "hash_salt", "row_digest"]
_REVIEWABLE = (LegacyAccount.State.IMPORTED, LegacyAccount.State.CONFLICT)


class ImportRowErrorInline(admin.TabularInline):
    model = ImportRowError
    fields = ["line", "username", "severity", "reason"]
    readonly_fields = fields
    extra = 0
    can_delete = False
    max_num = 0
    show_change_link = False


@admin.register(ImportRun)
class ImportRunAdmin(admin.ModelAdmin):
    list_display = [
        "filename",
        "service",
        "status",
        "started_at",
        "rows_total",
        "rows_created",
        "rows_updated",
        "rows_unchanged",
        "rows_failed",
        "hashes_unrecognized",
    ]
    list_filter = ["status", "service"]
    list_select_related = ["service"]
    inlines = [ImportRowErrorInline]

    def get_readonly_fields(self, request, obj=None):
        return [f.name for f in ImportRun._meta.fields]

    def has_add_permission(self, request):
        return False


class LegacyAccountForm(forms.ModelForm):
    class Meta:
        model = LegacyAccount
        fields = ["email"]


@admin.action(description=_("Drop from the migration"), permissions=["change"])
def drop_accounts(modeladmin, request: HttpRequest, queryset):
    count = services.legacy_accounts_drop(
        account_ids=list(queryset.values_list("pk", flat=True)), actor=request.user
    )
    modeladmin.message_user(request, _("%(count)d legacy accounts dropped.") % {"count": count})


@admin.action(
    description=_("Hand shared logins to the organization's main user"), permissions=["change"]
)
def shared_logins_hand_over(modeladmin, request: HttpRequest, queryset):
    result = services.shared_login_hand_over(
        account_ids=list(queryset.values_list("pk", flat=True)), actor=request.user
    )
    modeladmin.message_user(
        request,
        ngettext(
            "%(count)d shared login handed to the main users of its organization.",
            "%(count)d shared logins handed to the main users of their organizations.",
            result.handed,
        )
        % {"count": result.handed},
        messages.SUCCESS,
    )
    if result.already or result.refused:
        modeladmin.message_user(
            request,
            _(
                "Not handed over: %(already)d already handed, %(refused)d not a shared login "
                "in the review queue or its organization has no main user yet."
            )
            % {"already": result.already, "refused": result.refused},
            messages.WARNING,
        )


@admin.register(LegacyAccount)
class LegacyAccountAdmin(admin.ModelAdmin):
    form = LegacyAccountForm
    list_display = [
        "username",
        "service",
        "email",
        "full_name",
        "business_id",
        "role",
        "state",
        "conflict_reason",
        "warning",
        "hash_scheme",
        "hash_wrapped",
        "user",
    ]
    list_filter = [
        "state",
        "conflict_reason",
        "service",
        "hash_scheme",
        "hash_wrapped",
        "is_active",
        "role",
    ]
    list_select_related = ["service", "user"]
    search_fields = ["username", "email", "business_id", "organization_name", "last_name"]
    exclude = _SECRET_FIELDS
    actions = [drop_accounts]
    raw_id_fields = ["user"]
    show_full_result_count = False

    def get_readonly_fields(self, request, obj=None):
        names = [f.name for f in LegacyAccount._meta.fields if f.name not in _SECRET_FIELDS]
        if obj is not None and obj.state in _REVIEWABLE:
            names.remove("email")
        return names

    def get_fields(self, request, obj=None):
        return [
            f.name
            for f in LegacyAccount._meta.fields
            if f.name not in _SECRET_FIELDS and f.name != "id"
        ]

    def has_add_permission(self, request):
        return False

    def save_model(self, request, obj, form, change):
        if "email" not in form.changed_data:
            return
        try:
            services.legacy_account_fix_email(
                account=LegacyAccount.objects.get(pk=obj.pk),
                email=form.cleaned_data["email"],
                actor=request.user,
            )
        except ApplicationError as exc:
            messages.error(request, exc.message)
            request._legacy_email_refused = True

    def response_change(self, request, obj):
        # A refused email is not "changed successfully": stay on the page with the error only.
        if getattr(request, "_legacy_email_refused", False):
            return HttpResponseRedirect(request.path)
        return super().response_change(request, obj)


@admin.register(LegacyConflict)
class LegacyConflictAdmin(LegacyAccountAdmin):
    list_display = [
        "username",
        "service",
        "email_raw",
        "full_name",
        "business_id",
        "organization_name",
        "conflict_reason",
        "last_login",
        "handed_over",
    ]
    list_filter = ["conflict_reason", "service"]
    list_select_related = ["service", "handover"]
    actions = [drop_accounts, shared_logins_hand_over]

    def get_queryset(self, request):
        return super().get_queryset(request).filter(state=LegacyAccount.State.CONFLICT)

    @admin.display(description=_("handed to the main users"), boolean=True)
    def handed_over(self, obj) -> bool:
        return hasattr(obj, "handover")


@admin.register(MergePlan)
class MergePlanAdmin(admin.ModelAdmin):
    list_display = ["created_at", "applied", "created_by", "identities", "conflicts"]
    fields = ["created_at", "applied", "created_by", "finished_at", "report_table"]
    readonly_fields = fields
    change_list_template = "migration/admin/mergeplan_change_list.html"

    @admin.display(description=_("identities"))
    def identities(self, obj):
        return obj.report.get("plan", {}).get("identities")

    @admin.display(description=_("conflicts"))
    def conflicts(self, obj):
        return sum(obj.report.get("plan", {}).get("conflicts", {}).values())

    @admin.display(description=_("report"))
    def report_table(self, obj):
        return render_to_string(
            "migration/admin/_plan_report.html", {"sections": plan_sections(obj.report)}
        )

    def has_add_permission(self, request):
        return False

    def get_urls(self):
        return [
            path("plan/", self.admin_site.admin_view(self.plan_view), name="migration_plan_run"),
            *super().get_urls(),
        ]

    def plan_view(self, request: HttpRequest):
        if request.method == "POST" and self.has_view_permission(request) and request.user.is_staff:
            try:
                plan = services.legacy_merge_plan(actor=request.user)
            except ApplicationError as exc:
                messages.error(request, exc.message)
            else:
                messages.success(request, _("A new merge plan was made."))
                return HttpResponseRedirect(
                    reverse("admin:migration_mergeplan_change", args=[plan.pk])
                )
        return HttpResponseRedirect(reverse("admin:migration_mergeplan_changelist"))


@admin.register(SharedLoginHandover)
class SharedLoginHandoverAdmin(admin.ModelAdmin):
    list_display = ["account", "organization", "handed_at", "handed_by", "closed_at", "invited"]
    list_filter = ["closed_at"]
    list_select_related = ["account", "organization", "handed_by"]
    raw_id_fields = ["account", "organization"]

    def get_readonly_fields(self, request, obj=None):
        return [f.name for f in SharedLoginHandover._meta.fields]

    def has_add_permission(self, request):
        return False
