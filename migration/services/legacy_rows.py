"""Reading and normalizing legacy export rows, fast enough for millions of rows.

The readers stream a file in large chunks and yield, per data line, either the list of its
fields or a `RowError`. `RowNormalizer` turns one field list into the values of a
`LegacyAccount` row, already in PostgreSQL's COPY text format (tab-separated, `\\N` for
NULL, backslashes doubled), with no per-row database work.

Cost per row matters here (the issue's target is a few microseconds a row), so:
- a chunk of text is decoded, its backslashes escaped and its whitespace control
  characters turned into spaces in one pass each (C speed), not field by field;
- lines without a quote character are split with `str.split`; only quoted lines go through
  the `csv` module (strict, one line at a time, so a broken quote never swallows the next
  lines);
- the common shapes of emails, dates and password hashes are recognized by a compiled
  pattern, and anything else falls back to the exact rules (Django's `EmailValidator`,
  `hashes.recognize` with libpass and bcrypt, the full date parser).
"""

from __future__ import annotations

import csv
import json
import re
from collections.abc import Iterator
from datetime import datetime
from functools import lru_cache
from hashlib import blake2b
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from django.core.exceptions import ValidationError
from django.core.validators import EmailValidator
from django.utils import timezone

from organizations.validators import business_id_normalize
from posti_accounts.models import UserManager

from .. import hashes
from ..models import ImportRowError, LegacyAccount

_Reason = ImportRowError.Reason
ROW_NO_USERNAME = _Reason.NO_USERNAME
ROW_BAD_DATE = _Reason.BAD_DATE
ROW_BAD_QUOTING = _Reason.BAD_QUOTING
ROW_BAD_JSON = _Reason.BAD_JSON
ROW_BAD_ENCODING = _Reason.BAD_ENCODING
ROW_DUPLICATE = _Reason.DUPLICATE
ROW_TOO_MANY_COLUMNS = _Reason.TOO_MANY_COLUMNS
WARN_HASH_UNRECOGNIZED = _Reason.HASH_UNRECOGNIZED
WARN_EMAIL_INVALID = _Reason.EMAIL_INVALID

HELSINKI = ZoneInfo("Europe/Helsinki")
CHUNK_BYTES = 4 << 20
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
COLUMNS = (
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
# Every whitespace character `str.split()` splits on, except the line feed: turned into a
# space for the whole chunk, so each field only needs strip() (and a rare collapse).
_WHITESPACE = re.compile(
    "[\t\x0b\x0c\r\x1c-\x1f\x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]"
)
# Lowercase ASCII addresses Django's EmailValidator accepts (its user and domain patterns);
# anything else goes through the validator itself.
_FAST_EMAIL = re.compile(
    r"[-!#$%&'*+/=?^_`{}|~0-9a-z]+(?:\.[-!#$%&'*+/=?^_`{}|~0-9a-z]+)*"
    r"@(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z0-9-]{1,62}[a-z0-9]"
)
_SPACES = re.compile(" {2,}")
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


class RowError(Exception):
    pass


class FileError(Exception):
    """The file as a whole cannot be read (no header, no username column)."""


# --- values -------------------------------------------------------------------------------


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
    parsed = parse_datetime(value)
    return parsed.isoformat() if parsed else NULL


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


def unescape(value: str) -> str:
    return value.replace("\\\\", "\\")


class RowNormalizer:
    """Turns the field list of one row (in the file's column order) into a COPY text line of
    `OUTPUT_FIELDS` plus a constant suffix. Raises RowError for a bad row; warnings (invalid
    email, unrecognized hash) are returned beside the line."""

    def __init__(self, header: list[str], digest_key: bytes, prefix: str, suffix: str) -> None:
        self.width = len(header)
        missing = self.width  # index of the '' appended to every row
        index = dict.fromkeys(COLUMNS, missing)
        for position, name in enumerate(header):
            if name in index and index[name] == missing:
                index[name] = position
        self.positions = tuple(index[name] for name in COLUMNS)
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


assert LegacyAccount._meta.get_field("role").max_length >= len("admin")


# --- readers ------------------------------------------------------------------------------


def _decoded_lines(
    path: Path, encoding: str, explicit: bool, prepare: bool = True
) -> Iterator[tuple[int, list[str | None]]]:
    """(number of the first line, lines) per chunk; a line is None when it cannot be decoded
    or holds a NUL. Lines are escaped for COPY text (backslashes doubled) and every
    whitespace character but the line feed is a space."""
    number = 1
    rest = b""
    with path.open("rb") as handle:
        first = True
        while True:
            data = handle.read(CHUNK_BYTES)
            if first:
                first = False
                if data.startswith(b"\xef\xbb\xbf"):
                    data = data[3:]
            if not data:
                if rest:
                    data, rest = rest, b""
                else:
                    return
            else:
                data = rest + data
                cut = data.rfind(b"\n") + 1
                if cut == 0:
                    rest = data
                    continue
                data, rest = data[:cut], data[cut:]
            lines = _decode_chunk(data, encoding, explicit, prepare)
            yield number, lines
            number += len(lines)


def _decode_chunk(data: bytes, encoding: str, explicit: bool, prepare: bool) -> list[str | None]:
    fix = _prepare if prepare else _same
    try:
        text = data.decode(encoding)
    except UnicodeDecodeError:
        return [_decode_line(raw, encoding, explicit, fix) for raw in _split(data)]
    if "\x00" in text:
        return [None if "\x00" in line else fix(line) for line in _split_text(text)]
    return _split_text(fix(text))


def _same(text: str) -> str:
    return text


def _split(data: bytes) -> list[bytes]:
    lines = data.split(b"\n")
    if lines and lines[-1] == b"":
        lines.pop()
    return lines


def _split_text(text: str) -> list[str]:
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    return lines


def _prepare(text: str) -> str:
    """Escape for COPY text, whitespace to spaces, runs of spaces to one (every field is
    trimmed and has its inner whitespace collapsed, as `" ".join(value.split())` would)."""
    if "\\" in text:
        text = text.replace("\\", "\\\\")
    text = _WHITESPACE.sub(" ", text)
    return _SPACES.sub(" ", text) if "  " in text else text


def _decode_line(raw: bytes, encoding: str, explicit: bool, fix) -> str | None:
    try:
        text = raw.decode(encoding)
    except UnicodeDecodeError:
        if explicit:
            return None
        # Old Windows exports mixed into a UTF-8 file: cp1252 is what they nearly always are.
        try:
            text = raw.decode("cp1252")
        except UnicodeDecodeError:
            return None
    return None if "\x00" in text else fix(text)


RowItem = tuple[int, list[str] | RowError]


def csv_rows(
    path: Path, encoding: str, explicit: bool
) -> tuple[list[str], Iterator[list[RowItem]]]:
    """(header, chunks of (line number, fields + [''] or RowError)). Raises FileError."""
    chunks = _decoded_lines(path, encoding, explicit)
    header: list[str] | None = None
    delimiter = ","
    pending: list[tuple[int, list[str | None]]] = []
    for start, lines in chunks:
        for offset, text in enumerate(lines):
            if text is None or not text.strip():
                if header is None and text is None:
                    raise FileError("no_username_column")
                continue
            delimiter = ";" if text.count(";") > text.count(",") else ","
            try:
                header = [unescape(h).strip().lower() for h in _csv_line(text, delimiter)]
            except csv.Error as exc:
                raise FileError("no_username_column") from exc
            if "username" not in header:
                raise FileError("no_username_column")
            pending.append((start + offset + 1, lines[offset + 1 :]))
            break
        if header is not None:
            break
    if header is None:
        raise FileError("no_username_column")

    def generate() -> Iterator[list[RowItem]]:
        width = len(header)
        for start, lines in _chain(pending, chunks):
            yield _csv_chunk(start, lines, delimiter, width)

    return header, generate()


def _chain(first, rest):
    yield from first
    yield from rest


def _csv_line(text: str, delimiter: str) -> list[str]:
    if '"' not in text:
        return text.split(delimiter)
    return next(csv.reader([text], delimiter=delimiter, strict=True))


def _csv_chunk(start: int, lines: list[str | None], delimiter: str, width: int) -> list[RowItem]:
    items: list[RowItem] = []
    append = items.append
    for number, text in enumerate(lines, start):
        if text is None:
            append((number, RowError(ROW_BAD_ENCODING)))
            continue
        if '"' in text:
            try:
                fields = next(csv.reader([text], delimiter=delimiter, strict=True))
            except csv.Error:
                append((number, RowError(ROW_BAD_QUOTING)))
                continue
        else:
            fields = text.split(delimiter)
        size = len(fields)
        if size == 1 and not fields[0].strip():
            continue  # a blank line
        if size != width:
            if size > width:
                if any(v.strip() for v in fields[width:]):
                    append((number, RowError(ROW_TOO_MANY_COLUMNS)))
                    continue
                del fields[width:]
            else:
                fields += [""] * (width - size)
        fields.append("")
        append((number, fields))
    return items


def _json_value(value: Any) -> str:
    if value is None:
        return ""
    text = value if isinstance(value, str) else str(value)
    if "\x00" in text:
        raise RowError(ROW_BAD_ENCODING)
    text = " ".join(text.split())
    return text.replace("\\", "\\\\") if "\\" in text else text


def jsonl_rows(
    path: Path, encoding: str, explicit: bool
) -> tuple[list[str], Iterator[list[RowItem]]]:
    """JSON Lines: every object's keys are matched case-insensitively against COLUMNS."""
    header = list(COLUMNS)

    def generate() -> Iterator[list[RowItem]]:
        loads = json.loads
        for start, lines in _decoded_lines(path, encoding, explicit, prepare=False):
            items: list[RowItem] = []
            for number, text in enumerate(lines, start):
                if text is None:
                    items.append((number, RowError(ROW_BAD_ENCODING)))
                    continue
                if not text.strip():
                    continue
                try:
                    obj = loads(text)
                except ValueError:
                    items.append((number, RowError(ROW_BAD_JSON)))
                    continue
                if not isinstance(obj, dict):
                    items.append((number, RowError(ROW_BAD_JSON)))
                    continue
                if not obj.keys() <= _COLUMN_SET:
                    obj = {str(k).strip().lower(): v for k, v in obj.items()}
                fields = [obj.get(name, "") for name in COLUMNS]
                try:
                    joined = "|".join(fields)
                except TypeError:  # a number, a boolean or null among the values
                    joined = None
                if joined is None or not joined.isprintable() or "\\" in joined or "  " in joined:
                    try:
                        fields = [_json_value(value) for value in fields]
                    except RowError as exc:
                        items.append((number, exc))
                        continue
                fields.append("")
                items.append((number, fields))
            yield items

    return header, generate()


_COLUMN_SET = frozenset(COLUMNS)
