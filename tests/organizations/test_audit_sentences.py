"""Every audit event written against an organization reads as a sentence on its audit trail,
never as a code such as `legacy.shared_login_resolved`."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
from django.utils import translation

from organizations.templatetags.organizations_tags import AUDIT_SENTENCES, audit_sentence
from posti_accounts.models import AuditEvent

ROOT = Path(__file__).resolve().parents[2]
APPS = ("posti_accounts", "organizations", "notifications", "migration", "sso", "config")


def _organization_actions() -> set[str]:
    """The literal `action=` of every call in the apps that also passes `organization=`."""
    found = set()
    for app in APPS:
        for path in (ROOT / app).rglob("*.py"):
            if "migrations" in path.parts:
                continue
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                if not isinstance(node, ast.Call):
                    continue
                names = {k.arg: k.value for k in node.keywords}
                action = names.get("action")
                org = names.get("organization")
                if not isinstance(action, ast.Constant) or not isinstance(action.value, str):
                    continue
                if org is None or (isinstance(org, ast.Constant) and org.value is None):
                    continue
                found.add(action.value)
    return found


def test_the_scan_finds_the_organization_events():
    actions = _organization_actions()
    expected = {"invitation.created", "organization.name_chosen", "legacy.shared_login_resolved"}
    assert expected <= actions


def test_every_organization_event_has_a_sentence():
    missing = sorted(_organization_actions() - set(AUDIT_SENTENCES))
    assert missing == []


@pytest.mark.django_db
@pytest.mark.parametrize("language", ["fi", "sv"])
def test_sentences_are_translated(language):
    with translation.override(language):
        for action in AUDIT_SENTENCES:
            text = audit_sentence(AuditEvent(action=action, details={}))
            with translation.override("en"):
                english = audit_sentence(AuditEvent(action=action, details={}))
            assert text != english, action
            assert action not in text
