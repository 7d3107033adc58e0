from .views import profile, security

app_name = "posti_accounts"

urlpatterns = [*profile.urlpatterns, *security.urlpatterns]
