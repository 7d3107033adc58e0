"""Operator admin for users, audit events and sessions.

The admin login goes through allauth (`secure_admin_login`), and with ADMIN_REQUIRE_2FA staff
must have confirmed 2FA and have used it in this session before any admin page opens.

Privileges (staff/superuser status, groups, permissions) are editable by superusers only, and
staff who are not superusers cannot change staff accounts at all (`privileges`). django-otp's
device admins are unregistered: no admin page shows a TOTP secret, QR code or backup code;
staff reset a user's 2FA with an audited action instead.
"""

from __future__ import annotations

from functools import wraps

from allauth.account.admin import EmailAddressAdmin as AllauthEmailAddressAdmin
from allauth.account.decorators import secure_admin_login
from allauth.account.models import EmailAddress
from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.contrib.auth import logout
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.http import HttpResponseRedirect
from django.urls import reverse
from django.utils.http import urlencode
from django.utils.translation import gettext_lazy as _

from kernel.errors import ApplicationError

from . import twofactor
from .models import REQUIRED_ACTION_FIELDS, AuditEvent, User, UserSession
from .privileges import (
    PRIVILEGE_FIELDS,
    user_active_set,
    user_manage_allowed,
    user_privileges_change,
    user_required_action_clear,
)
from .services import (
    PROFILE_FIELDS,
    user_create,
    user_details_update,
    user_required_action_set,
)
from .signals import user_deactivation_requested

MSG_ADMIN_NEEDS_2FA = _(
    "Staff must use two-factor authentication. Set it up before using the administration."
)
MSG_ADMIN_VERIFY_2FA = _("Log in again with your two-factor authentication code.")
MSG_STAFF_ACCOUNT_ACTION = _("Only a superuser can change staff accounts.")


def user_deactivation_check(user: User) -> None:
    """Raises ApplicationError when a higher app refuses (the organizations app: last main
    user), through `signals.user_deactivation_requested`."""
    user_deactivation_requested.send(sender=User, user=user)


# --- Admin login and 2FA gate -------------------------------------------------------------------
admin.site.login = secure_admin_login(admin.site.login)
_admin_view = admin.site.admin_view


def _admin_view_with_2fa(view, cacheable=False):
    inner = _admin_view(view, cacheable)

    @wraps(inner)
    def wrapper(request, *args, **kwargs):
        user = request.user
        if settings.ADMIN_REQUIRE_2FA and user.is_authenticated and user.is_staff:
            if request.path == reverse("admin:logout"):
                return inner(request, *args, **kwargs)
            if not twofactor.user_has_2fa(user):
                messages.warning(request, MSG_ADMIN_NEEDS_2FA)
                request.session[twofactor.SETUP_NEXT_SESSION_KEY] = request.get_full_path()
                return HttpResponseRedirect(reverse("posti_accounts:twofactor_setup"))
            if not user.is_verified():
                logout(request)
                messages.warning(request, MSG_ADMIN_VERIFY_2FA)
                query = urlencode({"next": request.get_full_path()})
                return HttpResponseRedirect(f"{reverse('account_login')}?{query}")
        return inner(request, *args, **kwargs)

    return wrapper


admin.site.admin_view = _admin_view_with_2fa


def otp_device_admins_unregister() -> None:
    """Called from AppConfig.ready, after admin autodiscovery has imported django-otp's admin
    modules: their pages show TOTP secrets, QR codes and static tokens (issue 12)."""
    from django_otp.plugins.otp_static.models import StaticDevice
    from django_otp.plugins.otp_totp.models import TOTPDevice

    for model in (TOTPDevice, StaticDevice):
        if admin.site.is_registered(model):
            admin.site.unregister(model)


# --- Users --------------------------------------------------------------------------------------
class UserChangeForm(forms.ModelForm):
    class Meta:
        model = User
        fields = [
            "first_name",
            "last_name",
            "phone",
            "preferred_language",
            "requires_verify_email",
            "requires_update_password",
            "requires_check_details",
            "is_active",
            "is_staff",
            "is_superuser",
            "groups",
            "user_permissions",
        ]

    def clean(self):
        cleaned = super().clean()
        instance = self.instance
        if instance.pk and instance.is_active and cleaned.get("is_active") is False:
            try:
                user_deactivation_check(instance)
            except ApplicationError as exc:
                raise ValidationError(exc.message, code=exc.code) from exc
        return cleaned


class UserAddForm(forms.ModelForm):
    class Meta:
        model = User
        fields = ["email", "first_name", "last_name", "phone", "preferred_language", "is_staff"]

    def clean_email(self):
        email = User.objects.normalize_email(self.cleaned_data.get("email"))
        if User.objects.filter(email=email).exists():
            raise ValidationError(_("An account with this email address already exists."))
        return email


@admin.register(User)
class UserAdmin(admin.ModelAdmin):
    form = UserChangeForm
    add_form = UserAddForm
    list_display = [
        "email",
        "first_name",
        "last_name",
        "preferred_language",
        "is_active",
        "is_staff",
        "requires_verify_email",
        "requires_update_password",
        "requires_check_details",
    ]
    list_filter = [
        "is_active",
        "is_staff",
        "is_superuser",
        "preferred_language",
        "requires_verify_email",
        "requires_update_password",
        "requires_check_details",
    ]
    search_fields = ["email", "first_name", "last_name"]
    ordering = ["email"]
    show_full_result_count = False
    readonly_fields = [
        "email",
        "uuid",
        "date_joined",
        "last_login",
        "details_confirmed_at",
        "password_changed_at",
        "twofactor_status",
    ]
    filter_horizontal = ["groups", "user_permissions"]
    fieldsets = [
        (None, {"fields": ["email", "uuid"]}),
        (_("Personal details"), {"fields": ["first_name", "last_name", "phone"]}),
        (_("Language"), {"fields": ["preferred_language"]}),
        (
            _("Required actions"),
            {
                "fields": [
                    "requires_verify_email",
                    "requires_update_password",
                    "requires_check_details",
                    "details_confirmed_at",
                ]
            },
        ),
        (_("Two-factor authentication"), {"fields": ["twofactor_status"]}),
        (
            _("Permissions"),
            {"fields": ["is_active", "is_staff", "is_superuser", "groups", "user_permissions"]},
        ),
        (_("Dates"), {"fields": ["date_joined", "last_login", "password_changed_at"]}),
    ]

    @admin.display(description=_("Two-factor authentication"))
    def twofactor_status(self, obj) -> str:
        # Only whether it is on: the secret and backup codes are never shown here.
        return str(_("On") if twofactor.user_has_2fa(obj) else _("Off"))

    def _add_fields(self, request) -> list[str]:
        fields = list(self.add_form.Meta.fields)
        return fields if request.user.is_superuser else [f for f in fields if f != "is_staff"]

    def get_form(self, request, obj=None, change=False, **kwargs):
        if obj is None:
            kwargs["form"] = self.add_form
            kwargs["fields"] = self._add_fields(request)
        return super().get_form(request, obj, change=change, **kwargs)

    def get_fieldsets(self, request, obj=None):
        if obj is None:
            return [(None, {"fields": self._add_fields(request)})]
        return self.fieldsets

    def get_readonly_fields(self, request, obj=None):
        if obj is None:
            return []
        if request.user.is_superuser:
            return self.readonly_fields
        return [*self.readonly_fields, *PRIVILEGE_FIELDS]

    def has_change_permission(self, request, obj=None):
        allowed = super().has_change_permission(request, obj)
        return allowed and (obj is None or user_manage_allowed(actor=request.user, user=obj))

    def has_delete_permission(self, request, obj=None):
        allowed = super().has_delete_permission(request, obj)
        return allowed and (obj is None or user_manage_allowed(actor=request.user, user=obj))

    def save_model(self, request, obj, form, change):
        if change:
            self._save_change(request, obj, form)
            return
        # New users go through the service (EmailAddress row, audit event); they set their
        # password through "forgot password".
        created = user_create(
            email=obj.email,
            first_name=obj.first_name,
            last_name=obj.last_name,
            phone=obj.phone,
            preferred_language=obj.preferred_language,
            actor=request.user,
            request=request,
        )
        if obj.is_staff:  # only a superuser's add form has the field; audited as a privilege
            user_privileges_change(user=created, actor=request.user, request=request, is_staff=True)
        obj.pk = created.pk
        obj.password = created.password
        obj._state.adding = False

    def _save_change(self, request, obj, form) -> None:
        """Each part of the form goes through its service (and audit event) on a fresh copy
        of the row; `obj` already holds the form's values."""
        data = form.cleaned_data
        actor = request.user
        current = User.objects.select_for_update().get(pk=obj.pk)
        user_details_update(
            user=current,
            actor=actor,
            request=request,
            **{name: data[name] for name in PROFILE_FIELDS if name in data},
        )
        for action, field in REQUIRED_ACTION_FIELDS.items():
            if field not in data or data[field] == getattr(current, field):
                continue
            if data[field]:
                user_required_action_set(user=current, action=action, actor=actor, request=request)
            else:
                user_required_action_clear(
                    user=current, action=action, actor=actor, request=request
                )
        if "is_active" in data:
            user_active_set(user=current, active=data["is_active"], actor=actor, request=request)
        privileges = {name: data[name] for name in PRIVILEGE_FIELDS if name in data}
        if privileges:
            user_privileges_change(user=current, actor=actor, request=request, **privileges)

    def save_related(self, request, form, formsets, change):
        if not change:
            super().save_related(request, form, formsets, change)
            return
        # groups/user_permissions were set by user_privileges_change: no form.save_m2m().
        for formset in formsets:
            self.save_formset(request, form, formset, change=change)

    def delete_view(self, request, object_id, extra_context=None):
        obj = self.get_object(request, object_id)
        if obj is not None and request.method == "POST":
            try:
                user_deactivation_check(obj)
            except ApplicationError as exc:
                self.message_user(request, str(exc.message), messages.ERROR)
                return HttpResponseRedirect(
                    reverse("admin:posti_accounts_user_change", args=[obj.pk])
                )
        return super().delete_view(request, object_id, extra_context)

    def get_actions(self, request):
        actions = super().get_actions(request)
        if "delete_selected" in actions:
            func, name, description = actions["delete_selected"]
            actions["delete_selected"] = (self._guarded(func), name, description)
        return actions

    def _refuse_staff_accounts(self, request, users) -> bool:
        refused = [u.email for u in users if not user_manage_allowed(actor=request.user, user=u)]
        if refused:
            self.message_user(
                request, f"{', '.join(refused)}: {MSG_STAFF_ACCOUNT_ACTION}", messages.ERROR
            )
        return bool(refused)

    @admin.action(description=_("Deactivate selected users"), permissions=["change"])
    def deactivate_users(self, request, queryset):
        users = list(queryset.filter(is_active=True))
        if self._refuse_staff_accounts(request, users):
            return
        if not self._check_all(request, queryset):
            return
        try:
            with transaction.atomic():
                for user in users:
                    user_active_set(user=user, active=False, actor=request.user, request=request)
        except ApplicationError as exc:  # a main user became the last one meanwhile
            self.message_user(request, str(exc.message), messages.ERROR)
            return
        self.message_user(request, _("%(count)d users deactivated.") % {"count": len(users)})

    @admin.action(description=_("Reset two-factor authentication"), permissions=["change"])
    def twofactor_reset(self, request, queryset):
        """For a user who lost their phone and codes: they log in with their password and set
        2FA up again. Audited; ends their sessions and emails them."""
        users = list(queryset)
        if self._refuse_staff_accounts(request, users):
            return
        try:
            with transaction.atomic():
                count = sum(
                    twofactor.twofactor_reset(user=user, actor=request.user, request=request)
                    for user in users
                )
        except PermissionDenied:
            self.message_user(request, MSG_STAFF_ACCOUNT_ACTION, messages.ERROR)
            return
        self.message_user(
            request,
            _("Two-factor authentication reset for %(count)d users.") % {"count": count},
        )

    actions = ["deactivate_users", "twofactor_reset"]

    def _check_all(self, request, queryset) -> bool:
        for user in queryset.filter(is_active=True):
            try:
                user_deactivation_check(user)
            except ApplicationError as exc:
                self.message_user(request, f"{user.email}: {exc.message}", messages.ERROR)
                return False
        return True

    def _guarded(self, func):
        @wraps(func)
        def action(modeladmin, request, queryset):
            if not self._check_all(request, queryset):
                return None
            return func(modeladmin, request, queryset)

        return action


# --- Audit events and sessions (read-only) ----------------------------------------------------
class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(AuditEvent)
class AuditEventAdmin(ReadOnlyAdmin):
    list_display = ["created_at", "action", "actor", "target_user", "organization", "ip_address"]
    # No list_filter/date_hierarchy: on tens of millions of rows their DISTINCT queries would
    # scan the table on every page view. Search by exact action or the user's email instead.
    search_fields = ["=action", "=target_user__email", "=actor__email"]
    list_select_related = ["actor", "target_user", "organization"]
    raw_id_fields = ["actor", "target_user", "organization"]
    show_full_result_count = False


@admin.register(UserSession)
class UserSessionAdmin(ReadOnlyAdmin):
    list_display = ["user", "device_description", "ip_address", "created_at", "last_seen_at"]
    search_fields = ["user__email"]
    list_select_related = ["user"]
    exclude = ["session_key"]
    show_full_result_count = False


# allauth's "mark as verified" action declares no permission, so Django would offer it to
# staff who may only view addresses: a verified address is what access flows to.
class EmailAddressAdmin(AllauthEmailAddressAdmin):
    @admin.action(
        description=AllauthEmailAddressAdmin.make_verified.short_description,
        permissions=["change"],
    )
    def make_verified(self, request, queryset):
        return super().make_verified(request, queryset)


if admin.site.is_registered(EmailAddress):
    admin.site.unregister(EmailAddress)
admin.site.register(EmailAddress, EmailAddressAdmin)
