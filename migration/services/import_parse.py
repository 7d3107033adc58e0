"""Import, stage 1: reading legacy export files, fast enough for millions of rows.

The readers stream a file in large chunks and yield, per data line, either the list of its
fields (in the file's column order, plus a trailing '') or a `RowError`; `import_normalize`
then turns the fields into a staging row. Lines come out already escaped for PostgreSQL's
COPY text format (backslashes doubled) with every whitespace character but the line feed
turned into a space, each in one pass over a whole chunk (C speed), not field by field.
Lines without a quote character are split with `str.split`; only quoted lines go through
the `csv` module (strict, one line at a time, so a broken quote never swallows the next
lines).
"""

from __future__ import annotations

import csv
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from ..legacy_export import LEGACY_COLUMNS
from ..models import ImportRowError

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

CHUNK_BYTES = 4 << 20
# Every whitespace character `str.split()` splits on, except the line feed: turned into a
# space for the whole chunk, so each field only needs strip() (and a rare collapse).
_WHITESPACE = re.compile(
    "[\t\x0b\x0c\r\x1c-\x1f\x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]"
)
_SPACES = re.compile(" {2,}")
_COLUMN_SET = frozenset(LEGACY_COLUMNS)


class RowError(Exception):
    pass


class FileError(Exception):
    """The file as a whole cannot be read (no header, no username column)."""


def unescape(value: str) -> str:
    """A COPY-escaped value as its text."""
    return value.replace("\\\\", "\\")


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
    return list[str | None](_split_text(fix(text)))


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
    """JSON Lines: every object's keys are matched case-insensitively against the columns."""
    header = list(LEGACY_COLUMNS)

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
                fields = [obj.get(name, "") for name in LEGACY_COLUMNS]
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
