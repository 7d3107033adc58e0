from django.urls import path

from . import views

app_name = "notifications"

urlpatterns = [
    path("a/<str:token>/", views.action_link, name="action"),
    path("password/", views.password_set, name="password_set"),
]
