from __future__ import annotations

import pytest

from organizations import services
from organizations.models import EService, Membership
from posti_accounts.services import user_create
from tests.factories import OrganizationFactory


@pytest.fixture
def eservices(db):
    return [
        EService.objects.create(
            code=code, name_fi=f"{code} fi", name_sv=f"{code} sv", name_en=f"{code} en"
        )
        for code in ("laskutus", "lahetykset", "seuranta")
    ]


@pytest.fixture
def make_user(db):
    counter = {"n": 0}

    def make(email: str | None = None, *, verified: bool = True, **extra):
        counter["n"] += 1
        return user_create(
            email=email or f"person{counter['n']}@example.fi",
            password="correct-horse-battery-staple-42",
            first_name=extra.pop("first_name", "Matti"),
            last_name=extra.pop("last_name", f"Meikäläinen{counter['n']}"),
            email_verified=verified,
            **extra,
        )

    return make


@pytest.fixture
def staff(make_user):
    return make_user("staff@posti.example", is_staff=True)


@pytest.fixture
def org(db, staff, make_user):
    main = make_user("main@example.fi")
    organization = OrganizationFactory(name="Alpha Oy")
    services.membership_create(
        organization=organization, user=main, role=Membership.Role.MAIN_USER, actor=staff
    )
    organization.main_user = main
    return organization


@pytest.fixture
def add_member(make_user, staff):
    def add(organization, *, role=Membership.Role.MEMBER, user=None, services_=(), **kw):
        user = user or make_user(**kw)
        return services.membership_create(
            organization=organization, user=user, role=role, services=services_, actor=staff
        )

    return add
