"""Writes of the migration app, one module per stage of the pipeline (re-exported here):

- import: `import_parse` (reading export files), `import_normalize` (one row -> a staging
  row), `import_stage` (streaming into the `LegacyAccount` staging table);
- plan and review: `plan` (classification, the review queue, the dry-run report),
  `review` (staff decisions on the account queue), `org_review` (review items on
  organizations: names that disagree, no main user);
- apply: `apply` (batches and transactions), `apply_sql` (the set-based PostgreSQL steps),
  `apply_orm` (the same rules with the ORM, for other databases);
- cut-over: `cutover`;
- legacy passwords: `credentials` (wrapping, legacy login, discarding);
- shared logins: `shared_logins` (a shared mailbox handed to the organization's main users);
- `lock`: one import or merge at a time.
"""

from .apply import legacy_accounts_merge
from .credentials import (
    legacy_credentials_discard,
    legacy_hashes_pending_count,
    legacy_hashes_pending_ranges,
    legacy_hashes_wrap_range,
    legacy_login_authenticate,
)
from .cutover import legacy_credentials_retire
from .import_normalize import normalize_email
from .import_stage import ImportResult, legacy_accounts_import
from .lock import MSG_MIGRATION_RUNNING, migration_lock
from .org_review import organization_main_user_appoint, organization_name_choose
from .plan import legacy_merge_plan
from .review import legacy_account_fix_email, legacy_accounts_drop
from .shared_logins import shared_login_hand_over, shared_login_resolve, shared_mailbox_is

__all__ = [
    "MSG_MIGRATION_RUNNING",
    "ImportResult",
    "legacy_account_fix_email",
    "legacy_accounts_drop",
    "legacy_accounts_import",
    "legacy_accounts_merge",
    "legacy_credentials_discard",
    "legacy_credentials_retire",
    "legacy_hashes_pending_count",
    "legacy_hashes_pending_ranges",
    "legacy_hashes_wrap_range",
    "legacy_login_authenticate",
    "legacy_merge_plan",
    "migration_lock",
    "normalize_email",
    "organization_main_user_appoint",
    "organization_name_choose",
    "shared_login_hand_over",
    "shared_login_resolve",
    "shared_mailbox_is",
]
