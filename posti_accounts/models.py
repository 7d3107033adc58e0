from __future__ import annotations

import unicodedata
import uuid

from django.conf import settings
from django.contrib.auth.base_user import AbstractBaseUser, BaseUserManager
from django.contrib.auth.models import PermissionsMixin
from django.db import models
from django.db.models.functions import Lower
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class RequiredAction(models.TextChoices):
    """Things a user must do before using the portal, in the order they are asked."""

    VERIFY_EMAIL = "verify_email", _("Verify your email address")
    UPDATE_PASSWORD = "update_password", _("Set a new password")
    CHECK_DETAILS = "check_details", _("Check your details")


# Each required action is a boolean column so that campaigns and migration can set it on
# millions of rows with one set-based UPDATE, and audiences can filter on it with an index,
# on SQLite and PostgreSQL alike. `User.required_actions` presents them as a list.
REQUIRED_ACTION_FIELDS: dict[str, str] = {
    RequiredAction.VERIFY_EMAIL: "requires_verify_email",
    RequiredAction.UPDATE_PASSWORD: "requires_update_password",
    RequiredAction.CHECK_DETAILS: "requires_check_details",
}


class Language(models.TextChoices):
    FI = "fi", _("Finnish")
    SV = "sv", _("Swedish")
    EN = "en", _("English")


class UserManager(BaseUserManager["User"]):
    use_in_migrations = True

    @classmethod
    def normalize_email(cls, email: str | None) -> str:
        """The one email normalization of the project: Unicode NFC, trimmed, lowercased. The
        legacy import, logins, sign-up, invitations and staff forms all compare with it."""
        # Lowercase first: lowercasing can make a composable pair ("T\u0308" -> "t\u0308" ->
        # "\u1e97"), so NFC of the lowercased text is the only order that is idempotent.
        return unicodedata.normalize("NFC", (email or "").strip().lower())

    def get_by_natural_key(self, username: str) -> User:
        # Emails are stored lowercased (a check constraint), so an exact match uses the index.
        return self.get(email=self.normalize_email(username))

    def _create_user(self, email: str, password: str | None, **extra) -> User:
        if not email:
            raise ValueError("The email address must be set")
        user = self.model(email=self.normalize_email(email), **extra)
        if password:
            user.set_password(password)
        else:
            user.set_unusable_password()
        user.save(using=self._db)
        return user

    def create_user(self, email: str, password: str | None = None, **extra) -> User:
        """Low-level create. Application code uses `posti_accounts.services.user_create`,
        which also creates the allauth EmailAddress row and an audit event."""
        extra.setdefault("is_staff", False)
        extra.setdefault("is_superuser", False)
        return self._create_user(email, password, **extra)

    def create_superuser(self, email: str, password: str | None = None, **extra) -> User:
        extra["is_staff"] = True
        extra["is_superuser"] = True
        user = self._create_user(email, password, **extra)
        from allauth.account.models import EmailAddress

        EmailAddress.objects.update_or_create(
            user=user, email=user.email, defaults={"primary": True, "verified": True}
        )
        return user


class User(AbstractBaseUser, PermissionsMixin):
    email = models.EmailField(_("email address"), max_length=254, unique=True)
    first_name = models.CharField(_("first name"), max_length=150, blank=True)
    last_name = models.CharField(_("last name"), max_length=150, blank=True)
    phone = models.CharField(
        _("phone number"), max_length=32, blank=True, help_text=_("In international format.")
    )
    preferred_language = models.CharField(
        _("preferred language"), max_length=5, choices=Language.choices, default=Language.FI
    )
    uuid = models.UUIDField(_("public identifier"), default=uuid.uuid4, unique=True, editable=False)
    requires_verify_email = models.BooleanField(_("must verify email"), default=False)
    requires_update_password = models.BooleanField(_("must set a new password"), default=False)
    requires_check_details = models.BooleanField(_("must check details"), default=False)
    details_confirmed_at = models.DateTimeField(_("details confirmed at"), null=True, blank=True)
    password_changed_at = models.DateTimeField(_("password changed at"), null=True, blank=True)
    # Set when mail to the address bounced hard or drew a complaint (provider webhook or a
    # permanent 5xx at send time); cleared when the user changes or re-verifies the address.
    email_undeliverable_at = models.DateTimeField(
        _("email undeliverable since"), null=True, blank=True
    )
    email_undeliverable_reason = models.CharField(
        _("why email is undeliverable"), max_length=300, blank=True
    )
    is_staff = models.BooleanField(_("staff status"), default=False)
    is_active = models.BooleanField(_("active"), default=True)
    date_joined = models.DateTimeField(_("date joined"), default=timezone.now)

    objects = UserManager()

    EMAIL_FIELD = "email"
    USERNAME_FIELD = "email"
    REQUIRED_FIELDS: list[str] = []

    class Meta:
        verbose_name = _("user")
        verbose_name_plural = _("users")
        constraints = [
            models.UniqueConstraint(Lower("email"), name="user_email_ci_unique"),
            models.CheckConstraint(
                condition=models.Q(email=Lower("email")), name="user_email_lowercase"
            ),
        ]
        indexes = [
            models.Index(fields=["last_name", "first_name"], name="user_name_idx"),
        ]

    def __str__(self) -> str:
        return self.email

    def clean(self) -> None:
        super().clean()
        self.email = UserManager.normalize_email(self.email)

    def save(self, *args, **kwargs) -> None:
        self.email = UserManager.normalize_email(self.email)
        super().save(*args, **kwargs)

    def get_full_name(self) -> str:
        return f"{self.first_name} {self.last_name}".strip()

    def get_short_name(self) -> str:
        return self.first_name or self.email

    @property
    def display_name(self) -> str:
        return self.get_full_name() or self.email

    @property
    def required_actions(self) -> list[str]:
        return [action for action, field in REQUIRED_ACTION_FIELDS.items() if getattr(self, field)]


class AuditEvent(models.Model):
    """Who did what to whom, when. Written in the same transaction as the change.

    Never holds a password, token, OTP or legacy hash: `posti_accounts.audit.audit_event_record`
    scrubs `details` before saving.
    """

    created_at = models.DateTimeField(_("time"), default=timezone.now, db_index=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("actor"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    action = models.CharField(_("action"), max_length=64)
    target_user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("target user"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="audit_events",
        db_index=False,  # audit_target_time_idx starts with it
    )
    organization = models.ForeignKey(
        "organizations.Organization",
        verbose_name=_("organization"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="audit_events",
        db_index=False,  # audit_org_time_idx starts with it
    )
    ip_address = models.GenericIPAddressField(_("IP address"), null=True, blank=True)
    user_agent = models.CharField(_("user agent"), max_length=300, blank=True)
    details = models.JSONField(_("details"), default=dict, blank=True)

    class Meta:
        verbose_name = _("audit event")
        verbose_name_plural = _("audit events")
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["target_user", "-created_at"], name="audit_target_time_idx"),
            models.Index(fields=["organization", "-created_at"], name="audit_org_time_idx"),
            # A plain b-tree: `db_index=True` would add a `_like` twin no query uses.
            models.Index(fields=["action"], name="audit_action_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.created_at:%Y-%m-%d %H:%M} {self.action}"


class UserSession(models.Model):
    """One logged-in browser session, for the "active sessions" list and remote logout.

    Mirrors a row of the session store by `session_key`; `last_seen_at` is refreshed at most
    once a minute by `SessionTimeoutMiddleware` to spare the database.
    """

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("user"),
        on_delete=models.CASCADE,
        related_name="user_sessions",
    )
    session_key = models.CharField(_("session key"), max_length=40, unique=True)
    ip_address = models.GenericIPAddressField(_("IP address"), null=True, blank=True)
    user_agent = models.CharField(_("user agent"), max_length=300, blank=True)
    created_at = models.DateTimeField(_("created"), default=timezone.now)
    last_seen_at = models.DateTimeField(_("last seen"), default=timezone.now)

    class Meta:
        verbose_name = _("session")
        verbose_name_plural = _("sessions")
        ordering = ["-last_seen_at", "-id"]
        indexes = [models.Index(fields=["user", "-last_seen_at"], name="usersession_user_idx")]

    def __str__(self) -> str:
        return f"{self.user_id} {self.last_seen_at:%Y-%m-%d %H:%M}"

    @property
    def device_description(self) -> str:
        """Browser and device, e.g. "Firefox 128 · Linux", parsed from the user agent."""
        from user_agents import parse

        if not self.user_agent:
            return str(_("Unknown device"))
        ua = parse(self.user_agent)
        browser = f"{ua.browser.family} {ua.browser.version_string}".strip()
        device = ua.os.family
        if ua.is_mobile or ua.is_tablet:
            device = f"{ua.device.family} · {device}"
        return f"{browser} · {device}"


class BackupCode(models.Model):
    """One single-use 2FA backup code of a user's backup device (django-otp's StaticDevice,
    which keeps the throttling state). Only a salted HMAC-SHA256 of the code is stored; the
    code itself is shown to its owner once (`twofactor.backup_codes_regenerate`)."""

    device = models.ForeignKey(
        "otp_static.StaticDevice",
        on_delete=models.CASCADE,
        related_name="backup_codes",
        verbose_name=_("device"),
    )
    salt = models.CharField(_("salt"), max_length=32)
    code_hash = models.CharField(_("code hash"), max_length=64)

    class Meta:
        verbose_name = _("backup code")
        verbose_name_plural = _("backup codes")

    def __str__(self) -> str:
        return f"{self.device_id}:{self.pk}"


class OutboundEmail(models.Model):
    """The outbox: one email to one person, written in the transaction that decides to send it
    (so it exists exactly when the change does). The Celery message carries only this row's id
    (nothing secret in the broker); the worker claims the row, sends it, marks it sent and
    blanks its bodies (no reset or invitation link kept). A periodic sweep hands rows left
    unsent to the broker again, so a lost message or a Redis outage only delays the email."""

    class Status(models.TextChoices):
        PENDING = "pending", _("pending")
        SENDING = "sending", _("sending")
        SENT = "sent", _("sent")
        FAILED = "failed", _("failed")

    to = models.EmailField(_("to"), max_length=254)
    subject = models.CharField(_("subject"), max_length=998)
    text = models.TextField(_("text"), blank=True)
    html = models.TextField(_("HTML"), blank=True)
    status = models.CharField(
        _("status"), max_length=16, choices=Status.choices, default=Status.PENDING
    )
    attempts = models.PositiveSmallIntegerField(_("attempts"), default=0)
    last_error = models.CharField(_("last error"), max_length=300, blank=True)
    created_at = models.DateTimeField(_("created"), default=timezone.now)
    # Last handed to the broker (at creation, then by the sweep).
    queued_at = models.DateTimeField(_("queued"), default=timezone.now)
    claimed_at = models.DateTimeField(_("claimed"), null=True, blank=True)
    sent_at = models.DateTimeField(_("sent"), null=True, blank=True)

    class Meta:
        verbose_name = _("outbound email")
        verbose_name_plural = _("outbound emails")
        indexes = [
            # The sweep reads only the few unsent rows.
            models.Index(
                fields=["queued_at"],
                name="outboundemail_unsent_idx",
                condition=models.Q(status__in=["pending", "sending"]),
            ),
            models.Index(fields=["created_at"], name="outboundemail_created_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.to}: {self.subject}"
