"""Import, stage 2: one row's fields -> the values of a `LegacyAccount` staging row.

`RowNormalizer` turns the field list of one row into a line of PostgreSQL's COPY text format
(tab-separated, `\\N` for NULL, backslashes doubled), with no per-row database work. Cost
per row matters here (millions of rows), so the common shapes of emails, dates and password
hashes are recognized by a compiled pattern, and anything else falls back to the exact rules
(Django's `EmailValidator`, `hashes.recognize` with libpass and bcrypt, the full date parser).
"""

from __future__ import annotations

import re
from datetime import datetime
from functools import lru_cache
from hashlib import blake2b
from zoneinfo import ZoneInfo

from django.core.exceptions import ValidationError
from django.core.validators import EmailValidator
from django.utils import timezone

from organizations.validators import business_id_normalize
from posti_accounts.models import UserManager

from .. import hashes
from ..legacy_export import LEGACY_COLUMNS
from ..models import LegacyAccount
from .import_parse import (
    ROW_BAD_DATE,
    ROW_NO_USERNAME,
    WARN_EMAIL_INVALID,
    WARN_HASH_UNRECOGNIZED,
    RowError,
    unescape,
)

HELSINKI = ZoneInfo("Europe/Helsinki")
NULL = "\\N"
_EMAIL = EmailValidator()
_TRUE = {"1", "true", "yes", "y", "k", "kyllä", "kylla", "ja", "x", "active", "aktiivinen"}
_ADMIN_ROLES = {
    "admin",
    "administrator",
    "main_user",
    "pääkäyttäjä",
    "paakayttaja",
    "huvudanvändare",
}
# The LegacyAccount columns `RowNormalizer.line` writes, in order.
OUTPUT_FIELDS = (
    "username",
    "email_raw",
    "email",
    "email_valid",
    "first_name",
    "last_name",
    "phone",
    "business_id",
    "business_id_valid",
    "organization_name",
    "role",
    "is_active",
    "password_hash",
    "hash_scheme",
    "last_login",
    "row_digest",
)
# Lowercase ASCII addresses Django's EmailValidator accepts (its user and domain patterns);
# anything else goes through the validator itself.
_FAST_EMAIL = re.compile(
    r"[-!#$%&'*+/=?^_`{}|~0-9a-z]+(?:\.[-!#$%&'*+/=?^_`{}|~0-9a-z]+)*"
    r"@(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z0-9-]{1,62}[a-z0-9]"
)
_HEX = re.compile(r"[0-9a-fA-F]+")
# bcrypt with a cost libbcrypt accepts and a canonical salt (its 22nd character carries no
# stray bits): exactly the hashes `bcrypt.checkpw` accepts; other `$2?$` values are checked
# by `hashes.recognize`.
_BCRYPT = re.compile(
    r"\$2[aby]\$(?:0[4-9]|[12][0-9]|3[01])\$[./A-Za-z0-9]{21}[.Oeu][./A-Za-z0-9]{31}"
)
_BASE64 = re.compile(r"(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?")
# LDAP schemes: decoded length range (digest + salt) libpass accepts.
_LDAP_LENGTHS = {
    "{SSHA}": ("ldap_salted_sha1", 24, 36),
    "{SMD5}": ("ldap_salted_md5", 20, 32),
    "{SHA}": ("ldap_sha1", 20, 20),
    "{MD5}": ("ldap_md5", 16, 16),
}


@lru_cache(maxsize=1 << 17)
def normalize_email(value: str) -> tuple[str, bool]:
    """Trim and lowercase; returns (normalized, valid). The exact rule (Django's validator)."""
    # Export clutter first (`<addr>`, `mailto:`), then the one rule of `UserManager`.
    email = UserManager.normalize_email((value or "").strip().strip("<>"))
    if email.startswith("mailto:"):
        email = UserManager.normalize_email(email[7:])
    if not email:
        return "", False
    try:
        _EMAIL(email)
    except ValidationError:
        return email[:254], False
    return email[:254], len(email) <= 254


def email_fast(value: str) -> tuple[str, bool]:
    """`normalize_email` of a cleaned, COPY-escaped value, without the validator for the
    common addresses."""
    email = value.lower()
    if email.isascii() and len(email) <= 254 and _FAST_EMAIL.fullmatch(email):
        return email, True
    if "\\" in value:
        email, valid = normalize_email(unescape(value))
        return email.replace("\\", "\\\\"), valid
    return normalize_email(value)


_FI_DATETIME = re.compile(r"(\d{1,2})\.(\d{1,2})\.(\d{4})(?: (\d{1,2}):(\d{2})(?::(\d{2}))?)?")


def parse_datetime(value: str) -> datetime | None:
    """The exact rule: ISO 8601 or `D.M.YYYY[ H:MM[:SS]]`; naive times are Helsinki time."""
    value = (value or "").strip()
    if not value:
        return None
    match = _FI_DATETIME.fullmatch(value)
    if match:
        day, month, year, hour, minute, second = match.groups()
        try:
            return datetime(
                int(year),
                int(month),
                int(day),
                int(hour or 0),
                int(minute or 0),
                int(second or 0),
                tzinfo=HELSINKI,
            )
        except ValueError as exc:
            raise RowError(ROW_BAD_DATE) from exc
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError as exc:
        raise RowError(ROW_BAD_DATE) from exc
    if timezone.is_naive(parsed):
        parsed = parsed.replace(tzinfo=HELSINKI)
    return parsed


def datetime_text(value: str) -> str:
    """A stripped `last_login` value as COPY text. Naive times are written without an offset:
    the import's transaction sets the session time zone to Europe/Helsinki."""
    if not value:
        return NULL
    if len(value) == 16 and value[2] == "." and value[5] == "." and value[10] == " ":
        iso = f"{value[6:10]}-{value[3:5]}-{value[:2]} {value[11:]}"
        try:
            datetime.fromisoformat(iso)  # validates (day of month, hour ...) in C
        except ValueError:
            pass
        else:
            if iso[:4].isdigit() and iso[5:7].isdigit() and iso[8:10].isdigit():
                return iso
    elif value[4:5] == "-":
        try:
            parsed = datetime.fromisoformat(value)
        except ValueError:
            pass
        else:
            if len(value) == 19 and value[10] in "T " and value[13] == ":" == value[16]:
                return value  # already YYYY-MM-DDTHH:MM:SS
            return parsed.isoformat()
    loose = parse_datetime(value)
    return loose.isoformat() if loose else NULL


def hash_fast(value: str) -> tuple[str, str]:
    """`hashes.recognize` as (canonical hash, scheme), without libpass for common shapes."""
    if not value:
        return "", ""
    size = len(value)
    first = value[0]
    if (size == 32 or size == 40) and _HEX.fullmatch(value):
        return value.lower(), "hex_md5" if size == 32 else "hex_sha1"
    if first == "{":
        end = value.find("}") + 1
        prefix = value[:end].upper()
        rule = _LDAP_LENGTHS.get(prefix)
        body = value[end:]
        if rule and _BASE64.fullmatch(body):
            decoded = len(body) // 4 * 3 - body.count("=")
            if rule[1] <= decoded <= rule[2]:
                return prefix + body, rule[0]
    elif first == "$":
        if value.startswith("$6$"):
            return value, "sha512_crypt"
        if _BCRYPT.fullmatch(value):
            return value, "bcrypt"
    recognized = hashes.recognize(value)
    return recognized.hash, recognized.scheme


@lru_cache(maxsize=1 << 18)  # an organization's ID recurs on every member's row
def business_id(raw: str) -> tuple[str, bool]:
    if not raw:
        return "", True
    try:
        return business_id_normalize(raw), True
    except ValidationError:
        return raw, False


def split_full_name(full: str) -> tuple[str, str]:
    full = " ".join(full.split())
    if "," in full:
        last, _sep, first = full.partition(",")
        return first.strip(), last.strip()
    first, _sep, last = full.partition(" ")
    return first, last


def _escaped_cut(value: str, limit: int) -> str:
    """Cut an escaped value to `limit` characters of its unescaped text."""
    return value.replace("\\\\", "\\")[:limit].replace("\\", "\\\\")


def _clean(value: str, limit: int) -> str:
    value = value.strip()
    if "  " in value:
        value = " ".join(value.split())
    return value if len(value) <= limit else _escaped_cut(value, limit)


class RowNormalizer:
    """Turns the field list of one row (in the file's column order) into a COPY text line of
    `OUTPUT_FIELDS` plus a constant suffix. Raises RowError for a bad row; warnings (invalid
    email, unrecognized hash) are returned beside the line."""

    def __init__(self, header: list[str], digest_key: bytes, prefix: str, suffix: str) -> None:
        self.width = len(header)
        missing = self.width  # index of the '' appended to every row
        index = dict.fromkeys(LEGACY_COLUMNS, missing)
        for position, name in enumerate(header):
            if name in index and index[name] == missing:
                index[name] = position
        self.positions = tuple(index[name] for name in LEGACY_COLUMNS)
        self.digest_key = digest_key
        self.prefix = prefix
        self.suffix = suffix

    def line(self, fields: list[str]) -> tuple[str, str, tuple[str, ...]]:
        """(username, COPY line, warnings) for one row of exactly `width` fields + ''."""
        (
            i_user, i_email, i_first, i_last, i_full, i_phone, i_bid, i_org, i_role, i_hash,
            i_login, i_active,
        ) = self.positions  # fmt: skip
        username = fields[i_user].strip()
        if len(username) > 150:
            username = _clean(username, 150)
        if not username:
            raise RowError(ROW_NO_USERNAME)
        warnings: tuple[str, ...] = ()
        email_raw = fields[i_email].strip()
        if email_raw:
            if len(email_raw) > 320:
                email_raw = _clean(email_raw, 320)
            email, email_valid = email_fast(email_raw)
            if not email_valid:
                warnings = (WARN_EMAIL_INVALID,)
        else:
            email, email_valid = "", False
        first = fields[i_first].strip()
        last = fields[i_last].strip()
        if not (first or last):
            full = fields[i_full].strip()
            if full:
                first, last = split_full_name(full)
        if len(first) > 150 or len(last) > 150:
            first, last = _clean(first, 150), _clean(last, 150)
        phone = fields[i_phone].strip()
        if len(phone) > 64:
            phone = _clean(phone, 64)
        bid, bid_valid = business_id(fields[i_bid].strip()[:32])
        organization = fields[i_org].strip()
        if len(organization) > 200:
            organization = _clean(organization, 200)
        password_hash, scheme = hash_fast(fields[i_hash].strip())
        if scheme == "unknown":
            warnings += (WARN_HASH_UNRECOGNIZED,)
        active = fields[i_active].strip()
        body = "\t".join(
            (
                username,
                email_raw,
                email,
                "t" if email_valid else "f",
                first,
                last,
                phone,
                bid,
                "t" if bid_valid else "f",
                organization,
                "admin" if fields[i_role].strip().lower() in _ADMIN_ROLES else "user",
                "t" if not active or active.lower() in _TRUE else "f",
                password_hash,
                scheme,
                datetime_text(fields[i_login].strip()),
            )
        )
        digest = blake2b(body.encode(), key=self.digest_key, digest_size=32).hexdigest()
        return username, f"{self.prefix}{body}\t{digest}{self.suffix}", warnings


assert (LegacyAccount._meta.get_field("role").max_length or 0) >= len("admin")
