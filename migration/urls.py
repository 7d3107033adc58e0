from django.urls import path

from . import views

app_name = "migration"

# Mounted under /organizations/ (config/urls.py): these pages are the organization's.
urlpatterns = [
    path("<int:organization_id>/shared-logins/", views.shared_logins, name="shared_logins"),
    path(
        "<int:organization_id>/shared-logins/<int:handover_id>/invite/",
        views.shared_login_invite,
        name="shared_login_invite",
    ),
]
