"""Mass assignment (ASVS 5.0 V15.3.3): no API write takes a field it does not declare.

Every write route under `/api/v1/` is found by walking the URL resolver (a new route or a new
method is tested without anyone listing it). For each, the same request is sent twice from
the same state, each time rolled back: once with its legitimate body and once with that body
plus the fields an attacker would add (privilege flags, ownership ids, verification state,
primary keys, passwords, required actions ...), at the top level and in every nested row.
The change each makes to the whole database (every model, every row, every column) must be
the same: the extra fields changed nothing."""

from __future__ import annotations

import datetime as dt
import uuid

import pytest
from django.apps import apps
from django.db import models, transaction
from django.urls import URLPattern, get_resolver, reverse
from django.utils import timezone

from organizations.models import Invitation
from tests.api.conftest import (  # noqa: F401 (fixtures)
    application,
    bearer,
    eservices,
    make_token,
    membership,
    world,
)

pytestmark = pytest.mark.django_db

WRITE_METHODS = ("post", "put", "patch", "delete")
# The write routes that exist today: the walk must find at least these.
EXPECTED_WRITES = {
    ("me", "patch"),
    ("members", "post"),
    ("member", "patch"),
    ("member", "delete"),
    ("invitations", "post"),
    ("invitation", "delete"),
    ("invitation-resend", "post"),
}
# The legitimate body of each write, with every field its serializer declares writable (so an
# attack field is never a legitimate one); a route not listed here is attacked with `{}`.
BODIES = {
    ("me", "patch"): {
        "first_name": "Maija",
        "last_name": "Mallikas",
        "phone": "+358401234567",
        "preferred_language": "sv",
    },
    ("members", "post"): {
        "email": "new.person@example.fi",
        "role": "member",
        "eservices": ["laskutus"],
    },
    ("member", "patch"): {"role": "main_user", "eservices": []},
    ("invitations", "post"): {
        "invitations": [
            {"email": "one@example.fi", "role": "member", "eservices": []},
            {"email": "two@example.fi", "role": "main_user", "eservices": ["laskutus"]},
        ]
    },
}
# Values that change with every run whatever the input (random tokens, bodies carrying them).
VOLATILE = {
    ("organizations.invitation", "token_hash"),
    ("posti_accounts.outboundemail", "text"),
    ("posti_accounts.outboundemail", "html"),
}
ATTACKER_ID = 987654


def attack_fields(people: dict) -> dict:
    org_b, main_b = people["org_b"], people["main_b"]
    return {
        "is_staff": True,
        "is_superuser": True,
        "is_active": False,
        "role": "main_user",
        "status": "removed",
        "source": "legacy",
        "organization": org_b.pk,
        "organization_id": org_b.pk,
        "user": main_b.pk,
        "user_id": main_b.pk,
        "user_uuid": str(main_b.uuid),
        "uuid": str(uuid.uuid4()),
        "email": "attacker@evil.example",
        "email_verified": False,
        "id": ATTACKER_ID,
        "pk": ATTACKER_ID,
        "password": "attacker-chosen-password-1",
        "requires_verify_email": True,
        "requires_update_password": True,
        "requires_check_details": True,
        "details_confirmed_at": "2000-01-01T00:00:00Z",
        "date_joined": "2000-01-01T00:00:00Z",
        "last_login": "2000-01-01T00:00:00Z",
        "groups": [1],
        "user_permissions": [1],
        "invited_by": main_b.pk,
        "added_by": main_b.pk,
        "accepted_by": main_b.pk,
        "accepted_at": "2000-01-01T00:00:00Z",
        "revoked_at": "2000-01-01T00:00:00Z",
        "expires_at": "2100-01-01T00:00:00Z",
        "token_hash": "0" * 64,
        "created_at": "2000-01-01T00:00:00Z",
    }


def write_routes() -> list[tuple[str, str, set[str]]]:
    """(url name, method, path parameters) of every write handler under the `api` namespace."""
    resolver = get_resolver()
    api = next(p for p in resolver.url_patterns if getattr(p, "namespace", None) == "api")
    found = []
    for pattern in api.url_patterns:
        assert isinstance(pattern, URLPattern)
        view_class = getattr(pattern.callback, "view_class", None)
        for method in WRITE_METHODS:
            if view_class is None or hasattr(view_class, method):
                found.append((pattern.name, method, set(pattern.pattern.converters)))
    return found


def with_attack(body: dict, extra: dict) -> dict:
    """The body with every extra field added where it is not already a legitimate field, at
    the top level and in every nested row."""
    out = {**{k: v for k, v in extra.items() if k not in body}, **body}
    for key, value in body.items():
        if isinstance(value, list) and value and all(isinstance(r, dict) for r in value):
            out[key] = [with_attack(row, extra) for row in value]
    return out


def snapshot() -> dict:
    """Every row of every model (auto-created m2m tables included), keyed by label and pk."""
    return {
        model._meta.label_lower: {
            row[model._meta.pk.attname]: row
            for row in model._base_manager.values(*[f.attname for f in model._meta.concrete_fields])
        }
        for model in apps.get_models(include_auto_created=True)
    }


def _fields(label: str) -> dict[str, models.Field]:
    return {f.attname: f for f in apps.get_model(label)._meta.concrete_fields}


def change(before: dict, after: dict, t0: dt.datetime) -> dict:
    """What changed, comparable between runs: new primary keys become placeholders (also
    where a foreign key points at them), times become minutes after the request started."""
    new_pks = {
        label: {pk: f"new-{label}-{i}" for i, pk in enumerate(sorted(set(after[label]) - set(old)))}
        for label, old in before.items()
    }

    def norm(label: str, attname: str, value):
        field = _fields(label)[attname]
        if (label, attname) in VOLATILE:
            return "<volatile>"
        if field.primary_key:
            return new_pks[label].get(value, value)
        if field.is_relation and field.related_model is not None:
            return new_pks[field.related_model._meta.label_lower].get(value, value)
        if isinstance(value, dt.datetime):
            return round((value - t0).total_seconds() / 60)
        if isinstance(value, dict):  # audit details name new rows by id (`invitation_id`)
            return {k: "<id>" if k.endswith("_id") else v for k, v in value.items()}
        return value

    result = {}
    for label, old_rows in before.items():
        new_rows = after[label]
        removed = sorted(set(old_rows) - set(new_rows))
        changed = {
            pk: {
                a: (old_rows[pk][a], norm(label, a, v))
                for a, v in row.items()
                if v != old_rows[pk][a]
            }
            for pk, row in new_rows.items()
            if pk in old_rows and row != old_rows[pk]
        }
        added = sorted(
            (
                sorted((a, repr(norm(label, a, v))) for a, v in row.items())
                for pk, row in new_rows.items()
                if pk not in old_rows
            ),
        )
        if ATTACKER_ID in new_pks[label]:
            added.append(["the attacker's id was used as a primary key"])
        if removed or changed or added:
            result[label] = {"removed": removed, "changed": changed, "added": added}
    return result


def run_rolled_back(client, method: str, url: str, body: dict):
    with transaction.atomic():
        before = snapshot()
        t0 = timezone.now()
        response = getattr(client, method)(url, body, format="json")
        diff = change(before, snapshot(), t0)
        transaction.set_rollback(True)
    return response.status_code, diff


def test_the_walk_finds_every_write_route():
    found = {(name, method) for name, method, _params in write_routes()}
    assert found >= EXPECTED_WRITES, EXPECTED_WRITES - found
    assert set(BODIES) <= found, "a listed body belongs to no route"


@pytest.mark.parametrize(
    ("route", "method", "params"), write_routes(), ids=lambda v: v if isinstance(v, str) else ""
)
def test_extra_fields_change_nothing(world, bearer, route, method, params):  # noqa: F811
    org_a = world["org_a"]
    ids = {
        "organization_id": org_a.pk,
        "membership_id": membership(world["member_a"], org_a).pk,
        "invitation_id": Invitation.objects.get(organization=org_a).pk,
    }
    url = reverse(f"api:{route}", kwargs={k: v for k, v in ids.items() if k in params})
    client = bearer(world["main_a"])
    body = BODIES.get((route, method), {})
    attack = with_attack(body, attack_fields(world))
    assert set(attack) - set(body), "the attack adds nothing"

    plain_status, plain_change = run_rolled_back(client, method, url, body)
    attack_status, attack_change = run_rolled_back(client, method, url, attack)

    if (route, method) in EXPECTED_WRITES:
        # The comparison means something only if the legitimate request did its write.
        assert 200 <= plain_status < 300, (route, method, plain_status)
        assert plain_change, (route, method, "the legitimate request changed nothing")
    if attack_status == 400:
        assert attack_change == {}, (route, method)  # refusing the extra fields is fine too
    else:
        assert attack_status == plain_status, (route, method)
        assert attack_change == plain_change, (route, method)
