"""The admin looks like the operator's portal: header and title, an index grouped by the
rollout's steps, every app and model label translated, nothing inline that the CSP refuses."""

from __future__ import annotations

import re

import pytest
from django.apps import apps
from django.contrib import admin
from django.utils import translation

from config.admin_site import OTHER, PortalAdminSite
from posti_accounts.services import user_create

pytestmark = pytest.mark.django_db

# Words that are the same in English and the other language, for real.
SAME_IN = {"fi": set(), "sv": {"ID", "session"}}


@pytest.fixture
def staff(db):
    staff = user_create(email="boss@posti.example", password="x" * 16, is_staff=True)
    staff.is_superuser = True
    staff.save(update_fields=["is_superuser"])
    return staff


@pytest.fixture
def admin_client(client, settings, staff):
    settings.ADMIN_REQUIRE_2FA = False
    client.force_login(staff)
    return client


def test_the_default_site_is_the_portal_site():
    assert isinstance(admin.site, PortalAdminSite)


@pytest.mark.parametrize(
    ("language", "header", "groups"),
    [
        (
            "fi",
            "Postin sähköiset palvelut · ylläpito",
            ["Henkilöt", "Organisaatiot", "Tunnusten siirto"],
        ),
        ("sv", "Postens e-tjänster · administration", ["Personer", "Organisationer", "Migrering"]),
        ("en", "Posti e-services · administration", ["People", "Organizations", "Migration"]),
    ],
)
def test_index_grouped_by_rollout_steps(admin_client, staff, language, header, groups):
    type(staff).objects.filter(pk=staff.pk).update(preferred_language=language)
    response = admin_client.get("/admin/")
    assert response.status_code == 200
    body = response.content.decode()
    assert header in body
    names = [str(app["name"]) for app in response.context["app_list"]]
    assert names[:3] == groups
    assert len(names) == len(set(names))
    assert str(OTHER[1]) not in names  # every app has its step
    listed = [m["model"] for app in response.context["app_list"] for m in app["models"]]
    assert sorted(listed, key=str) == sorted(admin.site._registry, key=str)  # each once
    assert "Django" not in body.split("<body", 1)[1]


def test_app_index_page_still_works(admin_client):
    response = admin_client.get("/admin/organizations/")
    assert response.status_code == 200


def test_dashboard_linked_from_every_admin_page(admin_client):
    body = admin_client.get("/admin/organizations/organization/").content.decode()
    assert 'href="/admin/rollout/"' in body


def test_no_inline_script_or_style(admin_client):
    body = admin_client.get("/admin/").content.decode()
    scripts = re.findall(r"<script\b[^>]*>", body)
    assert all("src=" in tag or "nonce=" in tag for tag in scripts), scripts
    assert not re.search(r"<style\b", body)
    assert not re.search(r"\sstyle=\"", body)


def _english(value) -> str:
    with translation.override("en"):
        return str(value)


@pytest.mark.parametrize("language", ["fi", "sv"])
def test_every_admin_label_is_translated(language):
    untranslated = []
    with translation.override(language):
        for model in admin.site._registry:
            opts = model._meta
            texts = [
                apps.get_app_config(opts.app_label).verbose_name,
                opts.verbose_name,
                opts.verbose_name_plural,
            ]
            for text in texts:
                if str(text) == _english(text) and str(text) not in SAME_IN[language]:
                    untranslated.append(f"{opts.label}: {_english(text)}")
    assert untranslated == []


@pytest.mark.parametrize("language", ["fi", "sv"])
def test_third_party_field_labels_are_translated(language):
    untranslated = []
    with translation.override(language):
        for label in ("oauth2_provider",):
            for model in apps.get_app_config(label).get_models():
                if model not in admin.site._registry:
                    continue
                for field in model._meta.get_fields():
                    name = getattr(field, "verbose_name", None)
                    if name is None or not hasattr(name, "_proxy____args"):
                        continue  # a generated name (e.g. "id"), not a translatable one
                    if str(name) == _english(name) and str(name) not in SAME_IN[language]:
                        untranslated.append(f"{model._meta.label}.{field.name}: {name}")
    assert untranslated == []
