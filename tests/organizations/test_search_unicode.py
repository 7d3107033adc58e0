"""Member search folds case for every script, on SQLite as on PostgreSQL."""

from __future__ import annotations

import pytest

from organizations import services
from organizations.selectors import organization_members_list
from posti_accounts.dbfunctions import sqlite_like
from tests.factories import OrganizationFactory


@pytest.fixture
def members(make_user):
    org = OrganizationFactory()
    people = [
        make_user("maija@example.fi", first_name="Maija", last_name="Meikäläinen"),
        make_user("ake@example.fi", first_name="Åke", last_name="Öhman"),
        make_user("other@example.fi", first_name="Matti", last_name="Virtanen"),
    ]
    for person in people:
        services.membership_create(organization=org, user=person, actor=None)
    return org, people


@pytest.mark.parametrize(
    ("search", "expected"),
    [
        ("MEIKÄLÄINEN", ["maija@example.fi"]),
        ("meikäläinen", ["maija@example.fi"]),
        ("åKE", ["ake@example.fi"]),
        ("ÖHMAN", ["ake@example.fi"]),
        ("VIRTANEN", ["other@example.fi"]),
    ],
)
def test_search_is_case_insensitive_beyond_ascii(members, search, expected):
    org, _people = members
    found = organization_members_list(organization=org, search=search)
    assert sorted(m.user.email for m in found) == expected


@pytest.mark.parametrize(
    ("pattern", "value", "matches"),
    [
        ("%ÄLÄ%", "Meikäläinen", True),
        ("m_ija", "MAIJA", True),
        ("%a\\%b%", "xa%bx", True),
        ("%a\\%b%", "xaXbx", False),
        ("abc", "abcd", False),
        ("%", "", True),
    ],
)
def test_sqlite_like_keeps_like_semantics(pattern, value, matches):
    assert sqlite_like(pattern, value, "\\") is matches
