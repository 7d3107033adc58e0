"""Reading the bulk-invite input: pasted text or an uploaded CSV file, into `InviteRow`s.

Pure parsing, no database: which role or e-service a row names is checked by
`services.invitations_bulk_create`, which reports each row back."""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from dataclasses import dataclass, field

from django.utils.translation import gettext_lazy as _

from kernel.errors import ApplicationError

from .models import Membership

MSG_CSV_UNREADABLE = _("The list could not be read as CSV. Check the file and try again.")


@dataclass(frozen=True)
class InviteRow:
    email: str
    role: str = Membership.Role.MEMBER
    services: Sequence[str] = field(default_factory=tuple)
    line: int = 0


_HEADER_NAMES = {"email", "e-mail", "sähköposti", "e-post"}


def csv_bytes_decode(raw: bytes) -> str | None:
    """The text of an uploaded CSV file: UTF-8 (with or without BOM), else Windows-1252, which
    Excel in Finnish and Swedish saves "CSV (semicolon separated)" in. None for a binary file
    (NUL bytes: UTF-16 or a spreadsheet), which is not CSV text."""
    if b"\x00" in raw:
        return None
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        pass
    try:
        return raw.decode("cp1252")
    except UnicodeDecodeError:  # the five bytes cp1252 leaves undefined
        return None


def _is_address_like(cell: str) -> bool:
    return "@" in cell and not any(ch in cell for ch in ",; \t")


def _csv_delimiter(sample: str) -> str | None:
    """`,` or `;` (spreadsheets in Finnish and Swedish locales save CSV with semicolons) when
    the text looks like `email<d>role[<d>services]` records; None for a plain address list."""
    lines = [line for line in sample.splitlines()[:5] if line.strip()]
    if not lines:
        return None
    for delimiter in (",", ";"):
        head = lines[0].split(delimiter)[0].strip().lower()
        if delimiter in lines[0] and head in _HEADER_NAMES:
            return delimiter
        for line in lines:
            cells = [c.strip() for c in line.split(delimiter)]
            # "a@x.fi, b@x.fi" is a list of addresses, not an address with a role.
            if len(cells) > 1 and _is_address_like(cells[0]) and "@" not in cells[1]:
                return delimiter
    return None


def _services_split(cells: list[str]) -> tuple[str, ...]:
    """Service codes from the cells after the role, separated by ; , | or spaces."""
    joined = " ".join(cells)
    for separator in (";", ",", "|"):
        joined = joined.replace(separator, " ")
    return tuple(joined.split())


def _plain_rows(text: str) -> list[InviteRow]:
    rows = []
    for lineno, line in enumerate(text.splitlines(), start=1):
        for token in line.replace(",", " ").replace(";", " ").split():
            if lineno == 1 and token.lower() in _HEADER_NAMES:
                continue  # a one-column CSV file with a header
            # No role given: the caller's default applies (the form's role choice).
            rows.append(InviteRow(email=token, role="", line=lineno))
    return rows


def invite_rows_parse(text: str) -> list[InviteRow]:
    """Rows from pasted text or CSV: `email[,role[,service;service...]]` per line (also with
    `;` as the delimiter), or just addresses separated by whitespace/commas/semicolons. A
    header row is skipped. Text that cannot be read as CSV (NUL characters, an oversized
    field) raises ApplicationError."""
    text = (text or "").lstrip("\ufeff")
    if "\x00" in text:
        raise ApplicationError(MSG_CSV_UNREADABLE, code="csv_unreadable")
    delimiter = _csv_delimiter(text[:2000])
    if delimiter is None:
        return _plain_rows(text)
    try:
        records = list(csv.reader(io.StringIO(text), delimiter=delimiter))
    except csv.Error as exc:  # e.g. a field over the csv module's 128 kB limit
        raise ApplicationError(MSG_CSV_UNREADABLE, code="csv_unreadable") from exc
    rows: list[InviteRow] = []
    for lineno, record in enumerate(records, start=1):
        cells = [c.strip() for c in record]
        if not any(cells):
            continue
        if lineno == 1 and cells[0].lower() in _HEADER_NAMES:
            continue
        if any("@" in c for c in cells[1:]):  # a line that lists addresses only
            rows.extend(InviteRow(email=c, role="", line=lineno) for c in cells if c)
            continue
        rows.append(
            InviteRow(
                email=cells[0],
                role=cells[1] if len(cells) > 1 else "",
                services=_services_split(cells[2:]),
                line=lineno,
            )
        )
    return rows
