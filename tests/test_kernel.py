"""The shared kernel's helpers."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import AnonymousUser

from kernel.actors import actor_user
from kernel.tokens import token_hash


@pytest.mark.django_db
def test_actor_user_is_the_logged_in_user_or_none(user):
    assert actor_user(user) is user
    assert actor_user(AnonymousUser()) is None
    assert actor_user(None) is None


def test_token_hash_is_sha256_hex_and_total():
    assert token_hash("abc") == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    assert token_hash(None) == token_hash("")
