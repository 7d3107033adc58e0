"""The load test's data set, made in its own database (run inside a set-up Django).

50,000 users sharing one Argon2id hash computed once (hashing 50,000 passwords would take
15 minutes), each with a verified address; one organization of 2,000 members (20 main
users); an open e-service with a first-party OIDC client; bearer tokens for the API.
Users and the organization are kept between runs; everything a run writes (sessions,
invitations, audit events, outbox rows, OAuth grants and tokens) is deleted first.
"""

from __future__ import annotations

import random
import secrets
from datetime import timedelta

USER_DOMAIN = "load.example.fi"
PASSWORD = "Kuormitus-salasana-2026"  # noqa: S105 (test data only)
USERS = 50_000
MEMBERS = 2_000
MAIN_USERS = 20
TOKENS = 500
BATCH = 5_000
REDIRECT_URI = "https://rp.load.example.fi/cb"
ORG_BUSINESS_ID = "1234567-1"

FIRST_NAMES = [
    "Aino", "Eino", "Helmi", "Väinö", "Linnea", "Onni", "Sofia", "Leo", "Ella", "Oliver",
    "Aada", "Elias", "Ilona", "Juho", "Kerttu", "Mikael", "Saara", "Tapio", "Venla", "Åsa",
]  # fmt: skip
LAST_NAMES = [
    "Korhonen", "Virtanen", "Mäkinen", "Nieminen", "Mäkelä", "Hämäläinen", "Laine", "Heikkinen",
    "Koskinen", "Järvinen", "Lehtonen", "Lehtinen", "Saarinen", "Salminen", "Heinonen",
    "Nieminen", "Heikkilä", "Kinnunen", "Salonen", "Turunen", "Salo", "Laitinen", "Tuominen",
    "Rantanen", "Karjalainen", "Jokinen", "Mattila", "Savolainen", "Lahtinen", "Ahonen",
]  # fmt: skip


def email_of(i: int) -> str:
    return f"lt{i:05d}@{USER_DOMAIN}"


def _users_ensure(password_hash: str) -> None:
    from allauth.account.models import EmailAddress
    from django.db import transaction
    from django.utils import timezone

    from posti_accounts.models import User

    existing = User.objects.filter(email__endswith="@" + USER_DOMAIN)
    if existing.count() == USERS:
        existing.update(password=password_hash)
        return
    existing.delete()
    rng = random.Random(15)
    now = timezone.now()
    for start in range(0, USERS, BATCH):
        with transaction.atomic():
            users = User.objects.bulk_create(
                User(
                    email=email_of(i),
                    password=password_hash,
                    first_name=rng.choice(FIRST_NAMES),
                    last_name=rng.choice(LAST_NAMES),
                    preferred_language="fi",
                    password_changed_at=now,
                    details_confirmed_at=now,
                )
                for i in range(start, min(start + BATCH, USERS))
            )
            EmailAddress.objects.bulk_create(
                EmailAddress(user_id=u.pk, email=u.email, verified=True, primary=True)
                for u in users
            )


def _organization_ensure():
    from django.db import transaction

    from organizations import services as org_services
    from organizations.models import Membership, Organization
    from posti_accounts.models import User

    org = Organization.objects.filter(business_id=ORG_BUSINESS_ID).first()
    if org is not None and org.memberships.count() == MEMBERS:
        return org
    if org is not None:
        org.delete()
    first = User.objects.get(email=email_of(0))
    org = org_services.organization_create(
        name="Kuormitus Oy", business_id=ORG_BUSINESS_ID, actor=None, main_user=first
    )
    ids = dict(
        User.objects.filter(email__in=[email_of(i) for i in range(1, MEMBERS)]).values_list(
            "email", "pk"
        )
    )
    with transaction.atomic():
        Membership.objects.bulk_create(
            Membership(
                user_id=ids[email_of(i)],
                organization=org,
                role=Membership.Role.MAIN_USER if i < MAIN_USERS else Membership.Role.MEMBER,
                status=Membership.Status.ACTIVE,
                source=Membership.Source.ADMIN,
            )
            for i in range(1, MEMBERS)
        )
    return org


def _run_leftovers_delete() -> None:
    from django.contrib.sessions.models import Session
    from oauth2_provider.models import AccessToken, Grant, IDToken, RefreshToken

    from organizations.models import Invitation
    from posti_accounts.models import AuditEvent, OutboundEmail, UserSession

    for model in (RefreshToken, AccessToken, IDToken, Grant, Invitation, UserSession, Session):
        model.objects.all().delete()
    AuditEvent.objects.all().delete()
    OutboundEmail.objects.all().delete()


def dataset_ensure() -> dict:
    """Create or refresh the data set; returns what the locustfile needs."""
    from django.contrib.auth.hashers import make_password
    from django.utils import timezone
    from oauth2_provider.models import AccessToken, Application, set_token_value

    from organizations.models import EService
    from posti_accounts.models import User
    from sso.services import relying_party_register

    password_hash = make_password(PASSWORD)
    _users_ensure(password_hash)
    org = _organization_ensure()
    _run_leftovers_delete()

    eservice, _created = EService.objects.get_or_create(
        code="kuormitus",
        defaults={
            "name_fi": "Kuormituspalvelu",
            "name_sv": "Belastningstjänst",
            "name_en": "Load service",
            "requires_membership": False,
        },
    )
    Application.objects.filter(name="Load test client").delete()
    relying_party, client_secret = relying_party_register(
        name="Load test client",
        eservice=eservice,
        redirect_uris=[REDIRECT_URI],
        first_party=True,
        actor=None,
    )
    application = relying_party.application

    members = [email_of(i) for i in range(MAIN_USERS, MEMBERS)]
    others = [email_of(i) for i in range(MEMBERS, USERS)]
    main_users = [email_of(i) for i in range(MAIN_USERS)]
    token_users = dict(
        User.objects.filter(email__in=main_users + members[: TOKENS - MAIN_USERS]).values_list(
            "email", "pk"
        )
    )
    tokens: dict[str, str] = {}
    expires = timezone.now() + timedelta(hours=6)
    rows = []
    for email, pk in token_users.items():
        raw = secrets.token_urlsafe(30)
        token = AccessToken(
            user_id=pk,
            application=application,
            expires=expires,
            scope="openid profile email organizations organizations:manage",
        )
        set_token_value(token, raw)
        rows.append(token)
        tokens[email] = raw
    AccessToken.objects.bulk_create(rows)
    return {
        "password": PASSWORD,
        "organization_id": org.pk,
        "main_users": main_users,
        "members": members,
        "others": others,
        "tokens": tokens,
        "client_id": application.client_id,
        "client_secret": client_secret,
        "redirect_uri": REDIRECT_URI,
        "search_terms": [n[:4] for n in LAST_NAMES] + ["lt01", "lt00"],
    }
