"""`/api/v1/` routes. Each app's `api.py` holds its serializers and views."""

from django.urls import path  # noqa: F401

app_name = "api"

urlpatterns: list = []
