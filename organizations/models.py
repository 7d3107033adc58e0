from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models.functions import Lower
from django.utils import timezone
from django.utils.translation import get_language
from django.utils.translation import gettext_lazy as _

from .validators import validate_business_id


class EService(models.Model):
    """An e-service of the operator that people log in to with the one identity."""

    code = models.SlugField(_("code"), max_length=50, unique=True)
    name_fi = models.CharField(_("name (Finnish)"), max_length=200)
    name_sv = models.CharField(_("name (Swedish)"), max_length=200)
    name_en = models.CharField(_("name (English)"), max_length=200)
    requires_membership = models.BooleanField(
        _("requires an organization membership"),
        default=True,
        help_text=_("Only members who have been granted this service may use it."),
    )
    is_active = models.BooleanField(_("active"), default=True)

    class Meta:
        verbose_name = _("e-service")
        verbose_name_plural = _("e-services")
        ordering = ["code"]

    def __str__(self) -> str:
        return self.name

    @property
    def name(self) -> str:
        lang = (get_language() or "fi")[:2]
        return getattr(self, f"name_{lang}", None) or self.name_fi


class Organization(models.Model):
    name = models.CharField(_("name"), max_length=200, db_index=True)
    business_id = models.CharField(
        _("business ID"),
        max_length=9,
        unique=True,
        validators=[validate_business_id],
        help_text=_("Finnish business ID (Y-tunnus), e.g. 1234567-8."),
    )
    is_active = models.BooleanField(_("active"), default=True)
    created_at = models.DateTimeField(_("created at"), default=timezone.now)

    class Meta:
        verbose_name = _("organization")
        verbose_name_plural = _("organizations")
        ordering = ["name"]

    def __str__(self) -> str:
        return f"{self.name} ({self.business_id})"


class Membership(models.Model):
    class Role(models.TextChoices):
        MAIN_USER = "main_user", _("Main user")
        MEMBER = "member", _("Member")

    class Status(models.TextChoices):
        ACTIVE = "active", _("Active")
        PENDING = "pending", _("Pending")
        REMOVED = "removed", _("Removed")

    class Source(models.TextChoices):
        INVITATION = "invitation", _("Invitation")
        ADMIN = "admin", _("Operator staff")
        LEGACY = "legacy", _("Legacy migration")

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("user"),
        on_delete=models.CASCADE,
        related_name="memberships",
        db_index=False,  # membership_unique (user, organization) starts with it
    )
    organization = models.ForeignKey(
        Organization,
        verbose_name=_("organization"),
        on_delete=models.CASCADE,
        related_name="memberships",
        db_index=False,  # membership_org_idx starts with it
    )
    role = models.CharField(_("role"), max_length=16, choices=Role.choices, default=Role.MEMBER)
    status = models.CharField(
        _("status"), max_length=16, choices=Status.choices, default=Status.ACTIVE
    )
    source = models.CharField(
        _("source"), max_length=16, choices=Source.choices, default=Source.INVITATION
    )
    services = models.ManyToManyField(
        EService, verbose_name=_("e-services"), blank=True, related_name="memberships"
    )
    added_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("added by"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    created_at = models.DateTimeField(_("added at"), default=timezone.now)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        verbose_name = _("membership")
        verbose_name_plural = _("memberships")
        constraints = [
            models.UniqueConstraint(fields=["user", "organization"], name="membership_unique"),
        ]
        indexes = [
            models.Index(fields=["organization", "status", "role"], name="membership_org_idx"),
            models.Index(fields=["user", "status"], name="membership_user_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.user} @ {self.organization} ({self.role})"

    @property
    def is_main_user(self) -> bool:
        return self.role == self.Role.MAIN_USER and self.status == self.Status.ACTIVE


class Invitation(models.Model):
    organization = models.ForeignKey(
        Organization,
        verbose_name=_("organization"),
        on_delete=models.CASCADE,
        related_name="invitations",
    )
    email = models.EmailField(_("email address"))
    role = models.CharField(
        _("role"), max_length=16, choices=Membership.Role.choices, default=Membership.Role.MEMBER
    )
    services = models.ManyToManyField(
        EService, verbose_name=_("e-services"), blank=True, related_name="+"
    )
    # Only a hash of the token is stored; the token itself exists only in the email.
    token_hash = models.CharField(max_length=64, unique=True, editable=False)
    # The plain token, set (never stored) on the instance a create or resend service returns.
    # A bare annotation: no field, no class attribute.
    token: str
    expires_at = models.DateTimeField(_("expires at"))
    invited_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("invited by"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    created_at = models.DateTimeField(_("created at"), default=timezone.now)
    accepted_at = models.DateTimeField(_("accepted at"), null=True, blank=True)
    accepted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("accepted by"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    revoked_at = models.DateTimeField(_("revoked at"), null=True, blank=True)

    class Meta:
        verbose_name = _("invitation")
        verbose_name_plural = _("invitations")
        ordering = ["-created_at"]
        constraints = [
            # At most one open invitation per address and organization.
            models.UniqueConstraint(
                "organization",
                Lower("email"),
                condition=models.Q(accepted_at__isnull=True, revoked_at__isnull=True),
                name="invitation_open_unique",
            ),
        ]
        indexes = [models.Index(fields=["organization", "-created_at"], name="invitation_org_idx")]

    def __str__(self) -> str:
        return f"{self.email} → {self.organization}"

    @property
    def is_open(self) -> bool:
        return self.accepted_at is None and self.revoked_at is None

    @property
    def is_expired(self) -> bool:
        return timezone.now() >= self.expires_at
