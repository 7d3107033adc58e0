"""Admin of the review items on organizations (imported by `admin.py`, which registers the
rest of the app): staff see the names the legacy data gives an organization, with their
services and last use, and choose one; or appoint the main user it lacks. Both go through
the services (`organization_name_choose`, `organization_main_user_appoint`), audited."""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.utils.html import format_html, format_html_join
from django.utils.translation import gettext_lazy as _

from kernel.errors import ApplicationError
from organizations.models import Membership
from posti_accounts.models import User

from . import services
from .models import OrganizationReviewItem

Item = OrganizationReviewItem


class OrganizationReviewItemForm(forms.ModelForm):
    chosen = forms.ChoiceField(label=_("Name to use"), required=False)
    main_user = forms.ModelChoiceField(
        label=_("Main user to appoint"), queryset=User.objects.none(), required=False
    )

    class Meta:
        model = OrganizationReviewItem
        fields: list[str] = []

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        item = self.instance
        if item.kind == Item.Kind.NAME_CONFLICT:
            del self.fields["main_user"]
            self.fields["chosen"].choices = [("", "---")] + [
                (c["name"], c["name"]) for c in item.candidates
            ]
        else:
            del self.fields["chosen"]
            self.fields["main_user"].queryset = User.objects.filter(
                memberships__organization_id=item.organization_id,
                memberships__status__in=[Membership.Status.ACTIVE, Membership.Status.PENDING],
            ).order_by("email")


@admin.register(OrganizationReviewItem)
class OrganizationReviewItemAdmin(admin.ModelAdmin):
    form = OrganizationReviewItemForm
    list_display = ["organization", "kind", "status", "created_at", "resolved_at", "resolved_by"]
    list_filter = ["status", "kind"]
    list_select_related = ["organization", "resolved_by"]
    search_fields = ["organization__name", "organization__business_id"]
    readonly_fields = [
        "organization",
        "kind",
        "status",
        "names",
        "chosen_name",
        "created_at",
        "resolved_at",
        "resolved_by",
    ]

    def get_fields(self, request, obj=None):
        fields = list(self.readonly_fields)
        if (
            obj is not None
            and obj.status == Item.Status.OPEN
            and self.has_change_permission(request, obj)
        ):
            fields.append("chosen" if obj.kind == Item.Kind.NAME_CONFLICT else "main_user")
        return fields

    @admin.display(description=_("names in the legacy data"))
    def names(self, obj: OrganizationReviewItem) -> str:
        if not obj.candidates:
            return "-"
        rows = format_html_join(
            "",
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            (
                (c["name"], ", ".join(c["services"]), c["accounts"], c["last_used"] or "-")
                for c in obj.candidates
            ),
        )
        return format_html(
            "<table><tr><th>{}</th><th>{}</th><th>{}</th><th>{}</th></tr>{}</table>",
            _("name"),
            _("e-services"),
            _("legacy accounts"),
            _("last login in the old service"),
            rows,
        )

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def save_model(self, request, obj, form, change):
        try:
            if form.cleaned_data.get("chosen"):
                services.organization_name_choose(
                    item=obj, name=form.cleaned_data["chosen"], actor=request.user
                )
            elif form.cleaned_data.get("main_user"):
                services.organization_main_user_appoint(
                    item=obj,
                    user=form.cleaned_data["main_user"],
                    actor=request.user,
                    request=request,
                )
        except ApplicationError as exc:
            messages.error(request, exc.message)
