import pytest
from django.contrib.auth import authenticate
from django.core.management import call_command
from django.template.loader import render_to_string
from django.test import RequestFactory
from django.urls import reverse
from passlib import hash as ph

from migration import hashes
from migration.models import LegacyAccount
from migration.services import (
    legacy_accounts_import,
    legacy_accounts_merge,
    legacy_login_authenticate,
)
from posti_accounts.models import AuditEvent, User
from posti_accounts.services import user_password_changed

pytestmark = pytest.mark.django_db
EMAIL = "matti.virtanen@example.fi"


@pytest.fixture
def merged_user(service, service2, write_csv, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        legacy_accounts_import(
            service_code=service.code,
            path=write_csv(
                [
                    {
                        "username": "mv",
                        "email": EMAIL,
                        "password_hash": ph.hex_md5.hash("vanha-yksi"),
                    },
                ]
            ),
        )
        legacy_accounts_import(
            service_code=service2.code,
            path=write_csv(
                [
                    {
                        "username": "matti",
                        "email": EMAIL,
                        "password_hash": ph.ldap_salted_sha1.hash("vanha-kaksi"),
                    },
                ]
            ),
        )
    assert LegacyAccount.objects.filter(hash_wrapped=True).count() == 2
    legacy_accounts_merge()
    return User.objects.get(email=EMAIL)


def test_any_old_password_logs_in_until_a_new_one_is_set(merged_user, rf):
    request = rf.post("/accounts/login/")
    assert authenticate(request, email=EMAIL, password="vanha-yksi") == merged_user
    assert authenticate(request, email=EMAIL.upper(), password="vanha-kaksi") == merged_user
    assert authenticate(request, email=EMAIL, password="vaara") is None
    assert authenticate(request, email="nobody@example.fi", password="vanha-yksi") is None
    assert AuditEvent.objects.filter(action="legacy.login", target_user=merged_user).count() == 2
    merged_user.set_password("uusi-salasana-pitka-1")
    merged_user.save(update_fields=["password"])
    user_password_changed(user=merged_user)
    assert not LegacyAccount.objects.filter(user=merged_user).exclude(password_hash="").exists()
    assert authenticate(request, email=EMAIL, password="vanha-yksi") is None
    assert authenticate(request, email=EMAIL, password="uusi-salasana-pitka-1") == merged_user


def test_unmerged_or_unknown_accounts_do_not_log_in(service, write_csv):
    legacy_accounts_import(
        service_code=service.code,
        start_wrap=False,
        path=write_csv(
            [{"username": "x", "email": "x@example.fi", "password_hash": ph.hex_md5.hash("pw")}]
        ),
    )
    assert legacy_login_authenticate(email="x@example.fi", password="pw") is None


def test_unknown_email_costs_a_dummy_verification(db, monkeypatch):
    calls = []
    real = hashes.verify_dummy
    monkeypatch.setattr(hashes, "verify_dummy", lambda pw: calls.append(pw) or real(pw))
    assert legacy_login_authenticate(email="ei-ole@example.fi", password="x") is None
    assert legacy_login_authenticate(email="not-an-email", password="x") is None
    assert len(calls) == 2


def test_login_page_accepts_legacy_password(merged_user, client):
    url = reverse("account_login")
    wrong = client.post(url, {"login": EMAIL, "password": "vaara-salasana"})
    assert wrong.status_code == 200
    assert not AuditEvent.objects.filter(action="legacy.login").exists()
    response = client.post(url, {"login": EMAIL, "password": "vanha-kaksi"})
    # Authenticated by the legacy backend; the unverified address is then verified first
    # (allauth's mandatory verification), after which `update_password` is required.
    assert response.status_code == 302
    assert AuditEvent.objects.filter(action="legacy.login", target_user=merged_user).exists()
    merged_user.refresh_from_db()
    assert merged_user.requires_update_password and merged_user.requires_verify_email


def test_retire_cuts_over_one_service(merged_user, service, service2, capsys):
    call_command("retire_legacy_credentials", "--service", service.code, "--language", "en")
    assert "Retired 1" in capsys.readouterr().out
    retired = LegacyAccount.objects.get(service=service)
    assert retired.state == LegacyAccount.State.RETIRED and retired.password_hash == ""
    assert retired.user == merged_user  # still shown on Omat tiedot
    assert legacy_login_authenticate(email=EMAIL, password="vanha-yksi") is None
    assert legacy_login_authenticate(email=EMAIL, password="vanha-kaksi") == merged_user
    assert AuditEvent.objects.filter(action="legacy.retired").exists()


def test_reimport_after_discard_does_not_restore_hash(merged_user, service, write_csv):
    user_password_changed(user=merged_user)
    legacy_accounts_import(
        service_code=service.code,
        start_wrap=False,
        path=write_csv(
            [
                {
                    "username": "mv",
                    "email": EMAIL,
                    "phone": "+358401111111",
                    "password_hash": ph.hex_md5.hash("vanha-yksi"),
                }
            ]
        ),
    )
    account = LegacyAccount.objects.get(service=service)
    assert account.phone == "+358401111111"
    assert account.password_hash == "" and account.state == LegacyAccount.State.MERGED


def test_profile_section_lists_old_usernames_in_one_query(merged_user, django_assert_num_queries):
    with django_assert_num_queries(1):
        html = render_to_string("migration/_profile_section.html", {"user": merged_user})
    assert "mv" in html and "matti" in html and "Laskutus" in html
    other = User.objects.create_user(email="other@example.fi")
    with django_assert_num_queries(1):
        assert "matti" not in render_to_string("migration/_profile_section.html", {"user": other})


def test_admin_never_shows_unwrapped_hashes(service, write_csv, admin_client, settings):
    settings.ADMIN_REQUIRE_2FA = False
    md5 = ph.hex_md5.hash("vanha")
    legacy_accounts_import(
        service_code=service.code,
        start_wrap=False,
        path=write_csv([{"username": "a", "email": "bad", "password_hash": md5}]),
    )
    account = LegacyAccount.objects.get()
    for url in (
        reverse("admin:migration_legacyaccount_changelist"),
        reverse("admin:migration_legacyaccount_change", args=[account.pk]),
        reverse("admin:migration_importrun_changelist"),
        reverse("admin:migration_importrun_change", args=[account.import_run_id]),
    ):
        response = admin_client.get(url)
        assert response.status_code == 200, url
        assert md5 not in response.content.decode()
    merge_url = reverse("admin:migration_plan_run")
    assert admin_client.post(merge_url).status_code == 302
    response = admin_client.get(reverse("admin:migration_legacyconflict_changelist"))
    assert "a" in response.content.decode() and md5 not in response.content.decode()


@pytest.fixture
def rf():
    return RequestFactory()


def test_verified_existing_user_logs_in_with_legacy_password(service, write_csv, client):
    from posti_accounts.services import user_create

    user = user_create(email="olli@example.fi", email_verified=True)
    legacy_accounts_import(
        service_code=service.code,
        start_wrap=False,
        path=write_csv(
            [
                {
                    "username": "olli",
                    "email": "olli@example.fi",
                    "password_hash": ph.ldap_sha1.hash("vanha-olli"),
                }
            ]
        ),
    )
    legacy_accounts_merge()
    response = client.post(
        reverse("account_login"), {"login": user.email, "password": "vanha-olli"}
    )
    assert response.status_code == 302
    assert int(client.session["_auth_user_id"]) == user.pk
    user.refresh_from_db()
    assert user.requires_update_password


def test_omat_tiedot_shows_merged_usernames(merged_user, client):
    from allauth.account.models import EmailAddress

    EmailAddress.objects.filter(user=merged_user).update(verified=True)
    User.objects.filter(pk=merged_user.pk).update(
        requires_verify_email=False, requires_update_password=False
    )
    client.force_login(merged_user)
    response = client.get("/profile/")
    assert response.status_code == 200
    html = response.content.decode()
    assert "<td>mv</td>" in html and "<td>matti</td>" in html
