from django.urls import path  # noqa: F401

app_name = "posti_accounts"

urlpatterns: list = []
