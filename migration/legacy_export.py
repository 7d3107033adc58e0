"""The legacy export format: the columns an old service's export may have, by header name.

The one definition of the header: the importer matches columns against it, the tests and the
benchmark's generator write it. Plain Python (no Django), so the generator can run alone.
"""

LEGACY_COLUMNS = (
    "username",
    "email",
    "first_name",
    "last_name",
    "full_name",
    "phone",
    "business_id",
    "organization_name",
    "role",
    "password_hash",
    "last_login",
    "active",
)
