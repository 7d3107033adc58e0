"""Demo data: a small legacy data set from three e-services, imported and merged.

Called by `seed_demo`. Idempotent: a second call re-imports the same rows (nothing changes)
and merges again (nothing is left to merge). Every legacy account's password is
`vanha-salasana-1`: a migrated person logs in with their email and that password, verifies
the email, is made to set a new password, and sees the old usernames on Omat tiedot.
"""

from __future__ import annotations

import csv
import json
import tempfile
from pathlib import Path

from passlib import hash as ph

from organizations.models import EService

from .models import LegacyAccount, SharedLoginHandover
from .services import legacy_accounts_import, legacy_accounts_merge, shared_login_hand_over

DEMO_PASSWORD = "vanha-salasana-1"

SERVICES = {
    "lahetykset": ("Lähetykset", "Försändelser", "Shipments"),
    "laskutus": ("Laskutus", "Fakturering", "Invoicing"),
    "seuranta": ("Seuranta", "Spårning", "Tracking"),
}

# username, email, first, last, phone, business_id, organization, role, hash scheme
_PEOPLE = {
    "lahetykset": [
        (
            "mvirtanen",
            "Matti.Virtanen@example.fi ",
            "Matti",
            "Virtanen",
            "+358401234567",
            "0112038-9",
            "Kuljetus Virtanen Oy",
            "admin",
            "hex_md5",
        ),
        (
            "akorhonen",
            "aino.korhonen@example.fi",
            "Aino",
            "Korhonen",
            "",
            "0112038-9",
            "Kuljetus Virtanen Oy",
            "user",
            "ldap_salted_sha1",
        ),
        (
            "info_lahetys",
            "info@leipomo.example.fi",
            "Leipomo",
            "",
            "",
            "2345678-0",
            "Leipomo Mäkinen Ky",
            "admin",
            "hex_sha1",
        ),
        ("jnieminen", "", "Juha", "Nieminen", "", "", "", "user", "bcrypt"),
    ],
    "laskutus": [
        (
            "matti.v",
            "matti.virtanen@example.fi",
            "Matti",
            "Virtanen",
            "",
            "0112038-9",
            "Kuljetus Virtanen Oy",
            "user",
            "ldap_sha1",
        ),
        (
            "lmakinen",
            "liisa.makinen@example.fi",
            "Liisa",
            "Mäkinen",
            "",
            "1234567-1",
            "Leipomo Mäkinen Ky",
            "admin",
            "sha512_crypt",
        ),
        (
            "ebackman",
            "erik.backman@example.fi",
            "Erik",
            "Bäckman",
            "",
            "1234567-1",
            "Mäkisen Leipomo",
            "user",
            "django_pbkdf2_sha256",
        ),
        ("vanha", "not-an-email", "Ville", "Vanha", "", "", "", "user", "ldap_md5"),
    ],
    "seuranta": [
        (
            "matti",
            "matti.virtanen@example.fi",
            "Matti J.",
            "Virtanen",
            "",
            "",
            "",
            "user",
            "hex_md5",
        ),
        (
            "ssalo",
            "sanna.salo@example.fi",
            "Sanna",
            "Salo",
            "",
            "0737546-2",
            "Salon Sähkö Oy",
            "user",
            "ldap_salted_md5",
        ),
        (
            "tlaine",
            "toni.laine@example.fi",
            "Toni",
            "Laine",
            "",
            "1234566-0",
            "Väärä Oy",
            "user",
            "django_salted_sha1",
        ),
    ],
}


# Fixed salts: the demo files are byte-identical on every run, so a re-seed changes nothing.
_FIXED = {
    "bcrypt": {"rounds": 4, "salt": "abcdefghijklmnopqrstuu"},
    "sha512_crypt": {"rounds": 5000, "salt": "tunnusdemo"},
    "django_pbkdf2_sha256": {"rounds": 1000, "salt": "tunnusdemo"},
    "ldap_salted_sha1": {"salt": b"demo"},
    "ldap_salted_md5": {"salt": b"demo"},
    "django_salted_sha1": {"salt": "tunnusdemo"},
}


def _hash(scheme: str) -> str:
    handler = getattr(ph, scheme)
    if scheme in _FIXED:
        handler = handler.using(**_FIXED[scheme])
    return handler.hash(DEMO_PASSWORD)


def _write(path: Path, people: list[tuple]) -> None:
    rows = [
        {
            "username": p[0],
            "email": p[1],
            "first_name": p[2],
            "last_name": p[3],
            "phone": p[4],
            "business_id": p[5],
            "organization_name": p[6],
            "role": p[7],
            "password_hash": _hash(p[8]),
            "last_login": f"0{i + 1}.03.2024 12:00",
        }
        for i, p in enumerate(people)
    ]
    if path.suffix == ".jsonl":
        path.write_text(
            "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8"
        )
        return
    with path.open("w", encoding="utf-8-sig", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]), delimiter=";")
        writer.writeheader()
        writer.writerows(rows)


def seed(*, stdout) -> None:
    for code, (fi, sv, en) in SERVICES.items():
        EService.objects.get_or_create(
            code=code, defaults={"name_fi": fi, "name_sv": sv, "name_en": en}
        )
    with tempfile.TemporaryDirectory(prefix="legacy-demo-") as tmp:
        for code, people in _PEOPLE.items():
            path = Path(tmp) / (f"{code}.jsonl" if code == "seuranta" else f"{code}.csv")
            _write(path, people)
            run = legacy_accounts_import(service_code=code, path=path).run
            stdout.write(
                f"legacy {code}: {run.rows_created} created, {run.rows_updated} updated, "
                f"{run.rows_unchanged} unchanged\n"
            )
    report = legacy_accounts_merge().report
    stdout.write(
        f"legacy merge applied: {report['plan']['identities']} identities, "
        f"{sum(report['plan']['conflicts'].values())} conflicts in the review queue\n"
    )
    _migrated_logins(stdout)
    _shared_logins_hand_over(stdout)


def _migrated_logins(stdout) -> None:
    """The migrated demo people: email, the old password, and their merged old usernames."""
    merged: dict[str, list[str]] = {}
    rows = (
        LegacyAccount.objects.filter(state=LegacyAccount.State.MERGED, service__code__in=SERVICES)
        .order_by("user__email", "service__code")
        .values_list("user__email", "username")
    )
    for email, username in rows:
        merged.setdefault(email, []).append(username)
    for email, usernames in merged.items():
        stdout.write(
            f"  {email:40} {DEMO_PASSWORD}  migrated (old password; old usernames: "
            f"{', '.join(usernames)})"
        )


def _shared_logins_hand_over(stdout) -> None:
    """The demo's shared mailbox login goes to the main users of its organization (the
    organizations demo made them), who find it under the organization's Shared logins."""
    shared = LegacyAccount.objects.filter(
        service__code__in=SERVICES,
        state=LegacyAccount.State.CONFLICT,
        conflict_reason=LegacyAccount.ConflictReason.SHARED_MAILBOX,
    )
    shared_login_hand_over(account_ids=list(shared.values_list("pk", flat=True)), actor=None)
    for handover in SharedLoginHandover.objects.filter(
        account__service__code__in=SERVICES, closed_at__isnull=True
    ).select_related("account", "organization"):
        stdout.write(
            f"  shared login {handover.account.username} handed to the main users of "
            f"{handover.organization.name}: /organizations/{handover.organization_id}/"
            "shared-logins/"
        )
