"""Demo e-services, organizations, main users, members and pending invitations for
`seed_demo`. Idempotent: whatever already exists is left as it is."""

from __future__ import annotations

from posti_accounts.demo import DEMO_PASSWORD, demo_user_ensure
from posti_accounts.models import User

from . import services
from .models import EService, Invitation, Membership, Organization

__all__ = ["DEMO_PASSWORD", "seed"]

DEMO_SERVICES = [
    # code, fi, sv, en
    ("lahetykset", "Lähetykset", "Försändelser", "Shipments"),
    ("laskutus", "Laskutus", "Fakturering", "Invoicing"),
    ("seuranta", "Seuranta", "Spårning", "Tracking"),
    ("postinkanto", "Postinkanto", "Postutdelning", "Mail delivery"),
    ("yritysasiakas", "Yritysasiakaspalvelu", "Företagskundtjänst", "Business customer service"),
]

DEMO_PEOPLE = [
    # email, first, last, language
    ("paakayttaja@example.fi", "Pekka", "Pääkäyttäjä", "fi"),
    ("jasen@example.fi", "Jaana", "Jäsen", "fi"),
    ("huvudanvandare@example.fi", "Hanna", "Huvudanvändare", "sv"),
    ("medlem@example.fi", "Mats", "Medlem", "sv"),
]

DEMO_ORGANIZATIONS = [
    # name, business ID, [(email, role, services)], [(invited email, role, services)]
    (
        "Demo Kuljetus Oy",
        "1234567-1",
        [
            ("paakayttaja@example.fi", "main_user", ["lahetykset", "laskutus", "seuranta"]),
            ("jasen@example.fi", "member", ["lahetykset", "seuranta"]),
            ("maija.meikalainen@example.fi", "member", ["seuranta"]),
        ],
        [("uusi.tyontekija@example.fi", "member", ["lahetykset"])],
    ),
    (
        "Esimerkki Kauppa Oy",
        "2345678-0",
        [
            ("paakayttaja@example.fi", "main_user", ["laskutus"]),
            ("jasen@example.fi", "member", ["yritysasiakas"]),
        ],
        [("kirjanpitaja@example.fi", "member", ["laskutus"])],
    ),
    (
        "Testföretaget Ab",
        "0737546-2",
        [
            ("huvudanvandare@example.fi", "main_user", ["postinkanto", "laskutus"]),
            ("medlem@example.fi", "member", ["postinkanto"]),
            ("sven.svensson@example.fi", "member", []),
        ],
        [("ny.anstalld@example.fi", "main_user", [])],
    ),
]


def _services() -> None:
    for code, fi, sv, en in DEMO_SERVICES:
        EService.objects.get_or_create(
            code=code, defaults={"name_fi": fi, "name_sv": sv, "name_en": en}
        )


def _people(stdout) -> dict[str, User]:
    people: dict[str, User] = {}
    for email, first, last, language in DEMO_PEOPLE:
        people[email] = demo_user_ensure(
            email=email, first_name=first, last_name=last, language=language
        )
        stdout.write(f"  {email:40} {DEMO_PASSWORD}  organizations demo user")
    return people


def seed(*, stdout) -> None:
    _services()
    people = _people(stdout)
    for name, business_id, members, invitations in DEMO_ORGANIZATIONS:
        organization = Organization.objects.filter(business_id=business_id).first()
        if organization is None:
            organization = services.organization_create(
                name=name, business_id=business_id, actor=None
            )
        existing = set(
            Membership.objects.filter(organization=organization).values_list(
                "user__email", flat=True
            )
        )
        for email, role, codes in members:
            user = people.get(email) or User.objects.filter(email=email).first()
            if user is None or email in existing:
                continue
            services.membership_create(
                organization=organization,
                user=user,
                role=role,
                services=codes,
                actor=None,
                notify=False,
            )
        for email, role, codes in invitations:
            if Invitation.objects.filter(
                organization=organization, email=email, accepted_at__isnull=True
            ).exists():
                continue
            invitation = services.membership_invite(
                organization=organization, email=email, role=role, services=codes, actor=None
            )
            stdout.write(
                f"  invitation for {email} to {name}: /organizations/invitations/"
                f"{invitation.token}/"
            )
