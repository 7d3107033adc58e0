"""Authentication backend over the wrapped legacy password hashes of merged users.

Until a merged user sets a new password, their email and ANY of their old passwords (from
merged, non-retired legacy accounts) log them in; the `update_password` required action then
makes them set a new one, and `legacy_credentials_discard` deletes the legacy hashes.
"""

from __future__ import annotations

from django.contrib.auth.backends import ModelBackend
from django.http import HttpRequest

from posti_accounts.models import User


class LegacyPasswordBackend(ModelBackend):
    def authenticate(
        self,
        request: HttpRequest | None,
        username: str | None = None,
        password: str | None = None,
        email: str | None = None,
        **kwargs,
    ) -> User | None:
        from .services import legacy_login_authenticate

        identifier = email or username or kwargs.get(User.USERNAME_FIELD)
        if not identifier or not password:
            return None
        user = legacy_login_authenticate(email=identifier, password=password, request=request)
        if user is None or not self.user_can_authenticate(user):
            return None
        return user
