"""Factories shared by all apps. Users are made through the service-equivalent path so every
user has its verified allauth EmailAddress row, as the invariant demands."""

from __future__ import annotations

import factory
from allauth.account.models import EmailAddress

from organizations.models import EService, Membership, Organization
from posti_accounts.models import User


def _business_id(n: int) -> str:
    weights = (7, 9, 10, 5, 8, 4, 2)
    base = 1000000 + n
    while True:
        body = f"{base:07d}"
        rem = sum(int(d) * w for d, w in zip(body, weights, strict=True)) % 11
        if rem != 1:
            return f"{body}-{0 if rem == 0 else 11 - rem}"
        base += 1


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User
        skip_postgeneration_save = True

    email = factory.Sequence(lambda n: f"user{n}@example.fi")
    first_name = factory.Faker("first_name", locale="fi_FI")
    last_name = factory.Faker("last_name", locale="fi_FI")
    preferred_language = "fi"

    @factory.post_generation
    def password(obj, create, extracted, **kwargs):  # noqa: N805
        if extracted:
            obj.set_password(extracted)
        else:
            obj.set_unusable_password()
        if create:
            obj.save(update_fields=["password"])

    @factory.post_generation
    def email_verified(obj, create, extracted, **kwargs):  # noqa: N805
        if create:
            EmailAddress.objects.create(
                user=obj, email=obj.email, primary=True, verified=extracted is not False
            )


class EServiceFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = EService
        django_get_or_create = ("code",)

    code = factory.Sequence(lambda n: f"service-{n}")
    name_fi = factory.LazyAttribute(lambda o: f"Palvelu {o.code}")
    name_sv = factory.LazyAttribute(lambda o: f"Tjänst {o.code}")
    name_en = factory.LazyAttribute(lambda o: f"Service {o.code}")


class OrganizationFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Organization

    name = factory.Sequence(lambda n: f"Yritys {n} Oy")
    business_id = factory.Sequence(lambda n: _business_id(n * 13))


class MembershipFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Membership

    user = factory.SubFactory(UserFactory)
    organization = factory.SubFactory(OrganizationFactory)
    role = Membership.Role.MEMBER
    status = Membership.Status.ACTIVE
