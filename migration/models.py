"""Staging tables of the legacy migration: imported accounts, import reports, merge plans.

Legacy password hashes live only in `LegacyAccount.password_hash`. Weak (unsalted or fast)
hashes are replaced by an Argon2id wrapping of their digest by a background job
(`migration.tasks`); no admin page, log line or report ever shows the column.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class LegacyAccount(models.Model):
    class State(models.TextChoices):
        IMPORTED = "imported", _("Imported")
        CONFLICT = "conflict", _("Conflict")
        MERGED = "merged", _("Merged")
        RETIRED = "retired", _("Retired")
        DROPPED = "dropped", _("Dropped")

    class Role(models.TextChoices):
        ADMIN = "admin", _("Administrator")
        USER = "user", _("User")

    class ConflictReason(models.TextChoices):
        EMAIL_MISSING = "email_missing", _("Email address missing")
        EMAIL_INVALID = "email_invalid", _("Email address invalid")
        SHARED_MAILBOX = "shared_mailbox", _("Shared mailbox used as a personal login")

    class PlanWarning(models.TextChoices):
        """What the plan reports without holding anyone back (an organization's problem
        never holds back its people)."""

        NAME_MISMATCH = "name_mismatch", _("One email with different names")
        ORGANIZATION_NAME_CONFLICT = (
            "organization_name_conflict",
            _("One business ID with different organization names"),
        )
        BUSINESS_ID_INVALID = "business_id_invalid", _("Invalid business ID")

    # Foreign keys without their own index where a composite index below starts with the
    # column: every index is written again by each import upsert and merge UPDATE.
    service = models.ForeignKey(
        "organizations.EService",
        verbose_name=_("e-service"),
        on_delete=models.PROTECT,
        related_name="legacy_accounts",
        db_index=False,
    )
    username = models.CharField(_("legacy username"), max_length=150)
    email_raw = models.CharField(_("email as given"), max_length=320, blank=True)
    email = models.CharField(_("normalized email"), max_length=254, blank=True)
    email_valid = models.BooleanField(_("email is valid"), default=False)
    first_name = models.CharField(_("first name"), max_length=150, blank=True)
    last_name = models.CharField(_("last name"), max_length=150, blank=True)
    phone = models.CharField(_("phone number"), max_length=64, blank=True)
    business_id = models.CharField(_("business ID"), max_length=32, blank=True)
    business_id_valid = models.BooleanField(_("business ID is valid"), default=True)
    organization_name = models.CharField(_("organization name"), max_length=200, blank=True)
    role = models.CharField(_("legacy role"), max_length=8, choices=Role.choices, default=Role.USER)
    is_active = models.BooleanField(_("active in the old service"), default=True)
    # Never displayed anywhere. Weak schemes hold the legacy hash until the wrap job replaces
    # it by Argon2id(legacy digest); `hash_salt` keeps the non-secret salt needed to recompute
    # the digest from a candidate password.
    password_hash = models.TextField(_("password hash"), blank=True, editable=False)
    hash_scheme = models.CharField(_("hash scheme"), max_length=32, blank=True)
    hash_salt = models.CharField(max_length=200, blank=True, editable=False)
    hash_wrapped = models.BooleanField(_("hash wrapped"), default=False)
    last_login = models.DateTimeField(_("last login in the old service"), null=True, blank=True)
    state = models.CharField(
        _("state"), max_length=16, choices=State.choices, default=State.IMPORTED
    )
    conflict_reason = models.CharField(
        _("conflict reason"), max_length=32, choices=ConflictReason.choices, blank=True
    )
    warning = models.CharField(_("warning"), max_length=200, blank=True)
    # No database-level constraint: the merge links a million rows to their users at once,
    # and PostgreSQL then checks (and row-locks the user of) every one at commit, about as
    # long again as the UPDATE itself. Rows are linked only to the users the same
    # transaction reads or creates, and deleting a user through Django still sets this NULL.
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("linked user"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="legacy_accounts",
        db_index=False,
        db_constraint=False,
    )
    # HMAC of the imported values: a newer export updates only the rows whose digest differs.
    row_digest = models.CharField(max_length=64, editable=False)
    # Not indexed: only deleting an ImportRun looks rows up by it (a rare, admin-only scan).
    import_run = models.ForeignKey(
        "ImportRun",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        db_index=False,
    )
    created_at = models.DateTimeField(_("created at"), default=timezone.now)
    updated_at = models.DateTimeField(_("updated at"), default=timezone.now)
    merged_at = models.DateTimeField(_("merged at"), null=True, blank=True)
    credentials_discarded_at = models.DateTimeField(
        _("legacy password discarded at"), null=True, blank=True
    )

    class Meta:
        verbose_name = _("legacy account")
        verbose_name_plural = _("legacy accounts")
        constraints = [
            models.UniqueConstraint(fields=["service", "username"], name="legacy_service_username")
        ]
        indexes = [
            # Only the indexes a lookup needs: each one is written again for every row by the
            # import upsert and the merge UPDATE. `service` lookups use the unique
            # (service, username) index; business IDs are matched in bulk (sequential scans).
            # A plain b-tree (no `_like` twin as `db_index=True` adds on PostgreSQL).
            models.Index(fields=["email"], name="legacy_email_idx"),
            # The review queue; merged rows (nearly all) are not in it.
            models.Index(
                fields=["id"], name="legacy_conflict_idx", condition=models.Q(state="conflict")
            ),
            # A user's merged accounts (legacy login, Omat tiedot). Partial: the import writes
            # no entry here (no row has a user before the merge).
            models.Index(
                fields=["user"], name="legacy_user_idx", condition=models.Q(user__isnull=False)
            ),
            # No index for the hash-wrapping job: it reads id ranges by the primary key, and
            # without an index on the hash columns its writes are HOT updates.
        ]

    def __str__(self) -> str:
        return f"{self.service_id}:{self.username}"

    @property
    def full_name(self) -> str:
        return f"{self.first_name} {self.last_name}".strip()


class LegacyConflict(LegacyAccount):
    """The admin's review queue: legacy accounts in the `conflict` state."""

    class Meta:
        proxy = True
        verbose_name = _("legacy conflict")
        verbose_name_plural = _("legacy conflicts (review queue)")


class OrganizationReviewItem(models.Model):
    """Something about an organization that staff must decide, found by the merge: the legacy
    data gives it more than one name, or it has no main user. The organization and its
    people merge regardless; the item waits for the decision (one per organization and
    kind, so reruns of the merge never open it twice)."""

    class Kind(models.TextChoices):
        NAME_CONFLICT = "name_conflict", _("Organization names disagree")
        NO_MAIN_USER = "no_main_user", _("No main user")

    class Status(models.TextChoices):
        OPEN = "open", _("Open")
        RESOLVED = "resolved", _("Resolved")

    organization = models.ForeignKey(
        "organizations.Organization",
        verbose_name=_("organization"),
        on_delete=models.CASCADE,
        related_name="legacy_review_items",
    )
    kind = models.CharField(_("kind"), max_length=16, choices=Kind.choices)
    status = models.CharField(
        _("status"), max_length=16, choices=Status.choices, default=Status.OPEN
    )
    # NAME_CONFLICT: [{"name", "services": [codes], "accounts": n, "last_used": ISO or None}],
    # most recently used first.
    candidates = models.JSONField(_("names in the legacy data"), default=list, blank=True)
    chosen_name = models.CharField(_("chosen name"), max_length=200, blank=True)
    created_at = models.DateTimeField(_("created at"), default=timezone.now)
    resolved_at = models.DateTimeField(_("resolved at"), null=True, blank=True)
    resolved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("resolved by"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )

    class Meta:
        verbose_name = _("organization review item")
        verbose_name_plural = _("organization review items")
        ordering = ["status", "kind", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["organization", "kind"], name="legacy_org_review_one_per_kind"
            )
        ]
        indexes = [models.Index(fields=["status", "kind"], name="legacy_org_review_status")]

    def __str__(self) -> str:
        return f"{self.organization_id}: {self.get_kind_display()}"


class ImportRun(models.Model):
    class Status(models.TextChoices):
        RUNNING = "running", _("Running")
        DONE = "done", _("Done")
        FAILED = "failed", _("Failed")

    service = models.ForeignKey(
        "organizations.EService", verbose_name=_("e-service"), on_delete=models.PROTECT
    )
    filename = models.CharField(_("file"), max_length=500)
    file_format = models.CharField(_("format"), max_length=8)
    status = models.CharField(
        _("status"), max_length=16, choices=Status.choices, default=Status.RUNNING
    )
    started_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    started_at = models.DateTimeField(_("started at"), default=timezone.now)
    finished_at = models.DateTimeField(_("finished at"), null=True, blank=True)
    rows_total = models.PositiveIntegerField(_("rows read"), default=0)
    rows_created = models.PositiveIntegerField(_("rows created"), default=0)
    rows_updated = models.PositiveIntegerField(_("rows updated"), default=0)
    rows_unchanged = models.PositiveIntegerField(_("rows unchanged"), default=0)
    rows_failed = models.PositiveIntegerField(_("bad rows"), default=0)
    emails_invalid = models.PositiveIntegerField(_("invalid emails"), default=0)
    hashes_unrecognized = models.PositiveIntegerField(_("unrecognized password hashes"), default=0)

    class Meta:
        verbose_name = _("import run")
        verbose_name_plural = _("import runs")
        ordering = ["-started_at"]

    def __str__(self) -> str:
        return f"{self.filename} ({self.started_at:%Y-%m-%d %H:%M})"


class ImportRowError(models.Model):
    class Reason(models.TextChoices):
        NO_USERNAME = "no_username", _("No username")
        BAD_DATE = "bad_date", _("Unreadable last_login date")
        BAD_QUOTING = "bad_quoting", _("Broken quoting")
        BAD_JSON = "bad_json", _("Not a JSON object")
        BAD_ENCODING = "bad_encoding", _("Cannot be decoded with the given encoding")
        DUPLICATE = "duplicate", _("Duplicate username in this file (the first one was kept)")
        TOO_MANY_COLUMNS = "too_many_columns", _("More values than header columns")
        HASH_UNRECOGNIZED = (
            "hash_unrecognized",
            _("Password hash format not recognized: the account gets no legacy password"),
        )
        EMAIL_INVALID = "email_invalid", _("Invalid email address (kept and flagged)")

    class Severity(models.TextChoices):
        ERROR = "error", _("Error (row skipped)")
        WARNING = "warning", _("Warning (row imported)")

    run = models.ForeignKey(ImportRun, on_delete=models.CASCADE, related_name="row_errors")
    line = models.PositiveIntegerField(_("line"))
    username = models.CharField(_("legacy username"), max_length=150, blank=True)
    severity = models.CharField(
        _("severity"), max_length=8, choices=Severity.choices, default=Severity.ERROR
    )
    reason = models.CharField(_("reason"), max_length=32, choices=Reason.choices)

    class Meta:
        verbose_name = _("import row problem")
        verbose_name_plural = _("import row problems")
        ordering = ["run", "line"]

    def __str__(self) -> str:
        return f"{self.line}: {self.get_reason_display()}"


class MergePlan(models.Model):
    """A stored plan (dry run) or the report of an applied merge."""

    created_at = models.DateTimeField(_("created at"), default=timezone.now)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    applied = models.BooleanField(_("applied"), default=False)
    finished_at = models.DateTimeField(_("finished at"), null=True, blank=True)
    report = models.JSONField(_("report"), default=dict)

    class Meta:
        verbose_name = _("merge plan")
        verbose_name_plural = _("merge plans")
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.created_at:%Y-%m-%d %H:%M}"


class MigrationLock(models.Model):
    """Fallback of the PostgreSQL advisory lock for databases without one (SQLite)."""

    name = models.CharField(max_length=50, primary_key=True)
    holder = models.CharField(max_length=200)
    acquired_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = _("migration lock")
        verbose_name_plural = _("migration locks")

    def __str__(self) -> str:
        return self.name


class SharedLoginHandover(models.Model):
    """A shared mailbox login (info@, toimisto@, ...) handed by staff to the main users of
    its organization, who invite the real persons behind it; closed when they have (the
    legacy account is then dropped from the migration). A shared login never becomes a
    personal identity."""

    account = models.OneToOneField(
        LegacyAccount,
        verbose_name=_("legacy account"),
        on_delete=models.CASCADE,
        related_name="handover",
    )
    organization = models.ForeignKey(
        "organizations.Organization",
        verbose_name=_("organization"),
        on_delete=models.CASCADE,
        related_name="+",
    )
    handed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    handed_at = models.DateTimeField(_("handed over at"), default=timezone.now)
    closed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    closed_at = models.DateTimeField(_("closed at"), null=True, blank=True)
    invited = models.PositiveIntegerField(_("persons invited"), default=0)

    class Meta:
        verbose_name = _("shared login handed to a main user")
        verbose_name_plural = _("shared logins handed to main users")
        ordering = ["-handed_at"]

    def __str__(self) -> str:
        return f"{self.account} -> {self.organization_id}"
