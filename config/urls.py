from django.contrib import admin
from django.urls import include, path
from django.views.generic import TemplateView
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from config import health
from config.metrics import metrics_view

from .admin_views import rollout_dashboard_view
from .help_views import help_page

urlpatterns = [
    path("", TemplateView.as_view(template_name="home.html"), name="home"),
    path("i18n/", include("django.conf.urls.i18n")),
    path("help/", help_page, name="help"),
    path("accounts/", include("allauth.urls")),
    path("profile/", include("posti_accounts.urls")),
    path("organizations/", include("organizations.urls")),
    path("organizations/", include("migration.urls")),
    path("n/", include("notifications.urls")),
    # An admin page (staff, 2FA) of the top floor: it reads every app.
    path(
        "admin/rollout/",
        admin.site.admin_view(rollout_dashboard_view),
        name="rollout_dashboard",
    ),
    path("admin/", admin.site.urls),
    path("api/v1/", include("config.api_urls")),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    # The split view serves its init script as a file, so the CSP needs no inline script.
    path("api/docs/", SpectacularSwaggerSplitView.as_view(url_name="schema"), name="api-docs"),
    path("o/", include("sso.urls", namespace="oauth2_provider")),
    # Load-balancer probes (answered by config.health.HealthProbeMiddleware first).
    path("healthz", health.healthz, name="healthz"),
    path("readyz", health.readyz, name="readyz"),
    # Prometheus: allowed addresses or a bearer token only (config/metrics.py).
    path("metrics", metrics_view, name="metrics"),
]

# A lost database connection is a 503 page, not a 500 (config/errors.py).
handler500 = "config.errors.server_error"
