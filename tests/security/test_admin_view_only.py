"""View-only staff (ASVS 5.0 V8.2.1, V8.3.1): a staff user holding every `view_*` permission
and nothing else can read every admin page and change nothing.

The models are found by walking `admin.site._registry` (a newly registered model is tested
without anyone listing it). For each: the changelist and a change page answer 200 with no
editable control, no save button and no add/delete link; POSTs to the change, add and delete
pages are refused (403); every admin action and every custom admin URL of the model, posted
with every row selected, changes nothing. The whole database (every model, row and column) is
compared before and after."""

from __future__ import annotations

import re
import secrets
import uuid
from datetime import timedelta
from html.parser import HTMLParser
from io import StringIO

import pytest
from django.contrib import admin
from django.contrib.auth.models import Group, Permission
from django.core.management import call_command
from django.db import models
from django.urls import URLPattern, reverse
from django.utils import timezone
from oauth2_provider.models import AccessToken, Grant, IDToken, RefreshToken

from migration.models import OrganizationReviewItem
from notifications.models import Campaign, Delivery
from notifications.services import campaign_create
from organizations.models import EService, Organization
from posti_accounts.models import User, UserSession
from sso.services import relying_party_register
from tests.factories import UserFactory
from tests.security._admin_clients import admin_client, staff_user

pytestmark = pytest.mark.django_db

REGISTERED = sorted(admin.site._registry, key=lambda m: m._meta.label)
# Rows the requests themselves write: the staff member's session and its last-seen time.
NOT_DATA = {"sessions.session"}
NOT_DATA_FIELDS = {("posti_accounts.usersession", "last_seen_at")}
STANDARD_VIEWS = {"changelist", "add", "history", "delete", "change", "autocomplete"}
# Candidates for a custom admin URL's text parameter (the campaign control actions).
TEXT_ARGS = ["start", "schedule", "pause", "resume", "cancel", "retry", "test", "x"]
# Allowed by design: making a merge plan is a dry run that only writes the plan (a report)
# and its audit event; view permission on plans is what the view checks.
DRY_RUN_URLS = {"migration_plan_run": {"migration.mergeplan", "posti_accounts.auditevent"}}
INLINE_HIDDEN = re.compile(
    r"[\w-]+-(TOTAL_FORMS|INITIAL_FORMS|MIN_NUM_FORMS|MAX_NUM_FORMS|\d+-\w+)"
)
BUTTON_NAMES = {"_save", "_continue", "_addanother", "_saveasnew"}


class _Controls(HTMLParser):
    """Every form control of a page: (tag, name, type)."""

    def __init__(self):
        super().__init__()
        self.controls: list[tuple[str, str, str]] = []

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag in {"input", "select", "textarea", "button"}:
            self.controls.append((tag, a.get("name") or "", a.get("type") or ""))


def controls(response) -> list[tuple[str, str, str]]:
    parser = _Controls()
    parser.feed(response.content.decode())
    return parser.controls


def editable(found: list[tuple[str, str, str]], allowed: set[str]) -> list:
    """Named controls (only they submit data) other than the allowed names. An inline's
    management form (hidden counters) and its rows' hidden ids carry no data of their own."""
    return [
        c
        for c in found
        if c[1] and c[1] not in allowed and not (c[2] == "hidden" and INLINE_HIDDEN.fullmatch(c[1]))
    ]


def snapshot() -> dict:
    out = {}
    for model in apps_models():
        label = model._meta.label_lower
        if label in NOT_DATA:
            continue
        names = [
            f.attname
            for f in model._meta.concrete_fields
            if (label, f.attname) not in NOT_DATA_FIELDS
        ]
        rows = model._base_manager.all()
        if label == "posti_accounts.auditevent":
            rows = rows.exclude(action="access.denied")  # each refusal is recorded, by design
        out[label] = sorted(rows.values_list(*names), key=repr)
    return out


def apps_models() -> list[type[models.Model]]:
    from django.apps import apps

    return apps.get_models(include_auto_created=True)


def _fill_every_registered_model() -> None:
    """Demo data, plus a row for each registered model the demo leaves empty."""
    call_command("seed_demo", stdout=StringIO())
    someone = User.objects.filter(is_staff=False).order_by("pk").first()
    UserFactory(email="not.verified@example.fi", email_verified=False)  # for "mark verified"
    Group.objects.create(name="Operators")
    UserSession.objects.create(user=someone, session_key=secrets.token_hex(20))
    campaign = campaign_create(actor=None, name="Tiedote", kind=Campaign.Kind.ANNOUNCEMENT)
    Delivery.objects.create(campaign=campaign, user=someone)
    eservice = EService.objects.order_by("pk").first()
    relying_party, _secret = relying_party_register(
        name="RP", eservice=eservice, redirect_uris=["https://rp.example.fi/cb"], actor=None
    )
    app = relying_party.application
    later = timezone.now() + timedelta(hours=1)
    Grant.objects.create(
        user=someone,
        application=app,
        code=secrets.token_urlsafe(20),
        expires=later,
        redirect_uri="https://rp.example.fi/cb",
        scope="openid",
    )
    id_token = IDToken.objects.create(
        user=someone, application=app, jti=uuid.uuid4(), expires=later
    )
    access = AccessToken.objects.create(
        user=someone,
        application=app,
        token=secrets.token_urlsafe(20),
        expires=later,
        scope="openid",
        id_token=id_token,
    )
    RefreshToken.objects.create(
        user=someone, application=app, token=secrets.token_urlsafe(20), access_token=access
    )
    OrganizationReviewItem.objects.get_or_create(
        organization=Organization.objects.order_by("pk").first(),
        kind=OrganizationReviewItem.Kind.NO_MAIN_USER,
    )
    empty = [m._meta.label for m in REGISTERED if not m._default_manager.exists()]
    assert not empty, f"no row to look at for {empty}"


@pytest.fixture
def viewer_client(client):
    _fill_every_registered_model()
    view_perms = Permission.objects.filter(codename__startswith="view_")
    viewer = staff_user(email="viewer@posti.example")
    viewer.user_permissions.set(view_perms)
    assert not viewer.user_permissions.exclude(codename__startswith="view_").exists()
    admin_client(client, viewer)
    assert client.get(reverse("admin:index")).status_code == 200  # its session row exists now
    return client


def _url(model, view: str, *args) -> str:
    return reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_{view}", args=args)


def _custom_urls(model_admin) -> list[URLPattern]:
    prefix = f"{model_admin.opts.app_label}_{model_admin.opts.model_name}_"
    return [
        p
        for p in model_admin.get_urls()
        if isinstance(p, URLPattern)
        and p.name
        and p.name.removeprefix(prefix) not in STANDARD_VIEWS
    ]


def test_every_registered_model_is_walked():
    labels = {m._meta.label for m in REGISTERED}
    assert len(labels) >= 20
    assert {"posti_accounts.User", "organizations.Organization", "account.EmailAddress"} <= labels


@pytest.mark.parametrize("model", REGISTERED, ids=lambda m: m._meta.label)
def test_view_only_staff_reads_and_changes_nothing(viewer_client, model):
    client = viewer_client
    model_admin = admin.site._registry[model]
    before = snapshot()

    changelist = client.get(_url(model, "changelist"))
    assert changelist.status_code == 200
    found = editable(controls(changelist), allowed={"csrfmiddlewaretoken", "q"})
    assert not found, ("changelist", found)  # an action selector or list_editable input
    assert _url(model, "add") not in changelist.content.decode()
    rows = list(changelist.context["cl"].result_list)  # the admin's own queryset
    assert rows, "no row to open"
    obj = rows[0]

    change_url = _url(model, "change", obj.pk)
    page = client.get(change_url)
    assert page.status_code == 200
    assert page.context["has_change_permission"] is False
    found = controls(page)
    assert not {c[1] for c in found} & BUTTON_NAMES, found
    assert not editable(found, allowed={"csrfmiddlewaretoken"}), found
    assert _url(model, "delete", obj.pk) not in page.content.decode()

    text_field = next(
        (f for f in model._meta.concrete_fields if isinstance(f, models.CharField)), None
    )
    crafted = {text_field.name: "changed by a viewer"} if text_field else {}
    assert client.post(change_url, crafted).status_code == 403
    assert client.get(_url(model, "add")).status_code == 403
    assert client.post(_url(model, "add"), crafted).status_code == 403
    assert client.post(_url(model, "delete", obj.pk), {"post": "yes"}).status_code == 403

    all_pks = [str(row.pk) for row in rows]
    for _func, name, _description in model_admin._get_base_actions():
        response = client.post(
            _url(model, "changelist"),
            {"action": name, "_selected_action": all_pks, "index": "0", "post": "yes"},
        )
        assert response.status_code in (200, 302, 403), (name, response.status_code)
        assert snapshot() == before, f"the action {name!r} changed data"

    for pattern in _custom_urls(model_admin):
        names = list(pattern.pattern.converters)
        texts = TEXT_ARGS if any(not n.endswith("_id") for n in names) else TEXT_ARGS[:1]
        for text in texts:
            args = [obj.pk if n.endswith("_id") else text for n in names]
            url = reverse(f"admin:{pattern.name}", args=args)
            response = client.post(url, {"email": "viewer@posti.example", "delivery": all_pks})
            assert response.status_code in (200, 302, 403), (url, response.status_code)
            after = snapshot()
            allowed = DRY_RUN_URLS.get(pattern.name, set())
            assert {k: v for k, v in after.items() if k not in allowed} == {
                k: v for k, v in before.items() if k not in allowed
            }, f"{url} changed data"
            before = {**before, **{k: after[k] for k in allowed}}

    assert snapshot() == before
