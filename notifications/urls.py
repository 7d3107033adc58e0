from django.urls import path

from . import views, webhooks

app_name = "notifications"

urlpatterns = [
    path("a/<str:token>/", views.action_link, name="action"),
    path("password/", views.password_set, name="password_set"),
    path("preview/", views.preview_link, name="preview"),
    # The email provider's tracking webhooks, at anymail's paths: /n/webhooks/<esp>/tracking/
    path(
        "webhooks/<slug:esp>/tracking/",
        webhooks.tracking_webhook,
        name="email_tracking_webhook",
    ),
]
