"""Every translation catalog of the project is complete (fi and sv): no empty and no fuzzy
entries, and translated strings actually render."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SKIP_DIRS = {".venv", "node_modules", ".git", "staticfiles"}


def _catalogs() -> list[Path]:
    found = []
    for lang in ("fi", "sv"):
        for path in ROOT.glob(f"**/locale/{lang}/LC_MESSAGES/django.po"):
            if not SKIP_DIRS.intersection(path.relative_to(ROOT).parts):
                found.append(path)
    return sorted(found)


def _unquote(line: str) -> str:
    return ast.literal_eval(line)


def parse_po(text: str) -> list[dict]:
    """A tiny .po parser: entries with msgid, msgstr list, flags. Obsolete (#~) skipped."""
    entries: list[dict] = []
    entry: dict = {"flags": set(), "msgid": None, "msgstr": {}}
    current: tuple[str, int | None] | None = None

    def flush():
        nonlocal entry
        if entry["msgid"] is not None:
            entries.append(entry)
        entry = {"flags": set(), "msgid": None, "msgstr": {}}

    for raw in text.splitlines():
        line = raw.strip()
        if not line:
            flush()
            current = None
            continue
        if line.startswith("#~"):
            continue
        if line.startswith("#,"):
            if entry["msgid"] is not None:
                flush()
            entry["flags"].update(f.strip() for f in line[2:].split(","))
            continue
        if line.startswith("#"):
            continue
        if line.startswith("msgctxt "):
            if entry["msgid"] is not None:
                flush()
            current = ("msgctxt", None)
            continue
        if line.startswith("msgid_plural "):
            current = ("msgid_plural", None)
            continue
        if line.startswith("msgid "):
            if entry["msgid"] is not None:
                flush()
            entry["msgid"] = _unquote(line[6:])
            current = ("msgid", None)
            continue
        if line.startswith("msgstr["):
            index = int(line[7 : line.index("]")])
            entry["msgstr"][index] = _unquote(line[line.index("]") + 1 :].strip())
            current = ("msgstr", index)
            continue
        if line.startswith("msgstr "):
            entry["msgstr"][0] = _unquote(line[7:])
            current = ("msgstr", 0)
            continue
        if line.startswith('"') and current:
            kind, index = current
            if kind == "msgid":
                entry["msgid"] += _unquote(line)
            elif kind == "msgstr":
                entry["msgstr"][index] += _unquote(line)
    flush()
    return entries


def test_parser_finds_problems():
    sample = """
msgid ""
msgstr "Content-Type: text/plain; charset=UTF-8\\n"

#, fuzzy
msgid "Fuzzy"
msgstr "Sumea"

msgid "Empty"
msgstr ""

msgid "Multi"
"line"
msgstr ""
"Moni"

msgid "One"
msgid_plural "Many"
msgstr[0] "Yksi"
msgstr[1] ""
"""
    entries = {e["msgid"]: e for e in parse_po(sample)}
    assert "fuzzy" in entries["Fuzzy"]["flags"]
    assert entries["Empty"]["msgstr"] == {0: ""}
    assert entries["Multiline"]["msgstr"] == {0: "Moni"}
    assert entries["One"]["msgstr"] == {0: "Yksi", 1: ""}


def test_catalogs_exist():
    paths = {p.relative_to(ROOT).as_posix() for p in _catalogs()}
    assert "locale/fi/LC_MESSAGES/django.po" in paths
    assert "locale/sv/LC_MESSAGES/django.po" in paths


@pytest.mark.parametrize("path", _catalogs(), ids=lambda p: p.relative_to(ROOT).as_posix())
def test_catalog_complete(path: Path):
    problems = []
    for entry in parse_po(path.read_text(encoding="utf-8")):
        if entry["msgid"] == "":
            continue  # the header
        if "fuzzy" in entry["flags"]:
            problems.append(f"fuzzy: {entry['msgid'][:70]!r}")
        if not entry["msgstr"] or any(not v for v in entry["msgstr"].values()):
            problems.append(f"empty: {entry['msgid'][:70]!r}")
    assert not problems, f"{path}: {len(problems)} problems\n" + "\n".join(problems[:40])


@pytest.mark.parametrize(
    ("language", "expected"),
    [("fi", "Kirjaudu ulos muista istunnoistani"), ("sv", "Logga ut mina andra sessioner")],
)
def test_known_string_is_translated(language, expected):
    from django.utils import translation

    with translation.override(language):
        assert translation.gettext("Log out my other sessions") == expected


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("language", "fragment"),
    [("fi", "vanhat palvelukohtaiset käyttäjätunnukset"), ("sv", "gamla tjänstespecifika")],
)
def test_login_page_message_renders_translated(client, language, fragment):
    client.cookies["django_language"] = language
    response = client.post("/accounts/login/", {"login": "vanha_tunnus", "password": "x" * 12})
    content = response.content.decode()
    assert f'<html lang="{language}">' in content
    assert fragment in content.lower()
