"""2FA, required actions and sessions."""

from django.urls import path  # noqa: F401

urlpatterns: list = []
