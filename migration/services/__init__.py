"""Writes of the migration app (re-exported from the submodules)."""

from .credentials import (
    legacy_credentials_discard,
    legacy_credentials_retire,
    legacy_hashes_pending_count,
    legacy_hashes_pending_ranges,
    legacy_hashes_wrap_range,
    legacy_login_authenticate,
)
from .importing import ImportResult, legacy_accounts_import, normalize_email
from .locks import MSG_MIGRATION_RUNNING, migration_lock
from .merging import legacy_accounts_merge, legacy_merge_plan
from .review import legacy_account_fix_email, legacy_accounts_drop

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
]
