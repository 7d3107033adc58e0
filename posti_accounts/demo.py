"""Demo people for `seed_demo`. Idempotent: existing users are left as they are.

`demo_user_ensure` is the one way every app's demo module makes a demo person."""

from __future__ import annotations

from .models import User
from .services import user_create

DEMO_PASSWORD = "Demo-salasana-2026"  # noqa: S105 - printed on purpose for the demo
DEMO_USERS = [
    # email, first, last, language, staff
    ("henkilokunta@example.fi", "Hilkka", "Henkilökunta", "fi", True),
    ("maija.meikalainen@example.fi", "Maija", "Meikäläinen", "fi", False),
    ("sven.svensson@example.fi", "Sven", "Svensson", "sv", False),
]


def demo_user_ensure(
    *, email: str, first_name: str, last_name: str, language: str, staff: bool = False
) -> User:
    """The demo user with this email: created (verified, password `DEMO_PASSWORD`, staff
    also superuser) unless it exists already, which is then left as it is."""
    user = User.objects.filter(email=email).first()
    if user is not None:
        return user
    user = user_create(
        email=email,
        password=DEMO_PASSWORD,
        first_name=first_name,
        last_name=last_name,
        preferred_language=language,
        email_verified=True,
        is_staff=staff,
    )
    if staff:
        user.is_superuser = True
        user.save(update_fields=["is_superuser"])
    return user


def seed(*, stdout) -> None:
    for email, first, last, language, staff in DEMO_USERS:
        demo_user_ensure(
            email=email, first_name=first, last_name=last, language=language, staff=staff
        )
        role = "staff (admin; set up 2FA at first admin login)" if staff else "user"
        stdout.write(f"  {email:40} {DEMO_PASSWORD}  {role}")
