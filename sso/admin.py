"""Staff register e-service clients here: the toolkit's Application admin with the e-service
link inline. The first-party flag sets the consent skip; `skip_authorization` itself is
read-only so the two cannot disagree."""

from __future__ import annotations

from django.contrib import admin
from django.utils.translation import gettext_lazy as _
from oauth2_provider.admin import AccessTokenAdmin as ToolkitAccessTokenAdmin
from oauth2_provider.admin import ApplicationAdmin as ToolkitApplicationAdmin
from oauth2_provider.admin import RefreshTokenAdmin as ToolkitRefreshTokenAdmin
from oauth2_provider.models import (
    get_access_token_model,
    get_application_model,
    get_refresh_token_model,
)

from .models import RelyingParty
from .services import relying_party_link

Application = get_application_model()
AccessToken = get_access_token_model()
RefreshToken = get_refresh_token_model()


class RelyingPartyInline(admin.StackedInline):
    model = RelyingParty
    fields = ("eservice", "first_party")
    extra = 1
    max_num = 1
    min_num = 1
    can_delete = False


@admin.register(RelyingParty)
class RelyingPartyAdmin(admin.ModelAdmin):
    list_display = ("application", "eservice", "first_party", "created_at")
    list_filter = ("first_party",)
    list_select_related = ("application", "eservice")
    search_fields = ("application__name", "application__client_id", "eservice__code")
    readonly_fields = ("application", "eservice", "first_party", "created_at")

    def has_add_permission(self, request):
        return False  # added with its application


class ApplicationAdmin(ToolkitApplicationAdmin):
    inlines = [RelyingPartyInline]
    list_display = ("name", "client_id", "client_type", "relying_party", "skip_authorization")
    list_select_related = ("relying_party__eservice",)
    readonly_fields = (*ToolkitApplicationAdmin.readonly_fields, "skip_authorization")

    def get_changeform_initial_data(self, request):
        initial = super().get_changeform_initial_data(request)
        initial.setdefault("authorization_grant_type", Application.GRANT_AUTHORIZATION_CODE)
        initial.setdefault("algorithm", Application.RS256_ALGORITHM)
        initial.setdefault("client_type", Application.CLIENT_CONFIDENTIAL)
        return initial

    def save_formset(self, request, form, formset, change):
        if formset.model is not RelyingParty:
            return super().save_formset(request, form, formset, change)
        # Saved through the service (consent flag kept in step, audit event), not the formset.
        formset.new_objects, formset.changed_objects, formset.deleted_objects = [], [], []
        for inline_form in formset.forms:
            data = getattr(inline_form, "cleaned_data", None)
            if not data or data.get("DELETE") or not data.get("eservice"):
                continue
            if inline_form.instance.pk and not inline_form.has_changed():
                continue
            link = relying_party_link(
                application=form.instance,
                eservice=data["eservice"],
                first_party=bool(data.get("first_party")),
                actor=request.user,
                request=request,
            )
            if inline_form.instance.pk:
                formset.changed_objects.append((link, inline_form.changed_data))
            else:
                formset.new_objects.append(link)


if admin.site.is_registered(Application):
    admin.site.unregister(Application)
admin.site.register(Application, ApplicationAdmin)


# The toolkit's revoke actions declare no permission, so Django would offer them to staff who
# may only view tokens; revoking is a change.
class AccessTokenAdmin(ToolkitAccessTokenAdmin):
    @admin.action(description=_("Revoke selected access tokens"), permissions=["change"])
    def revoke_tokens(self, request, queryset):
        return super().revoke_tokens(request, queryset)


class RefreshTokenAdmin(ToolkitRefreshTokenAdmin):
    @admin.action(description=_("Revoke selected refresh tokens"), permissions=["change"])
    def revoke_tokens(self, request, queryset):
        return super().revoke_tokens(request, queryset)


for _model, _admin_class in ((AccessToken, AccessTokenAdmin), (RefreshToken, RefreshTokenAdmin)):
    if admin.site.is_registered(_model):
        admin.site.unregister(_model)
    admin.site.register(_model, _admin_class)
