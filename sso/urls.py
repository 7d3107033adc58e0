"""`/o/`: the OpenID Connect provider endpoints, and only those.

The toolkit's default URL set also publishes self-service client registration
(`applications/`, dynamic client registration) and the device flow; e-services are registered
by staff in the admin, so those stay unrouted. Included with namespace `oauth2_provider`,
which the toolkit reverses. Every endpoint refuses NUL characters up front (`nul_refused`):
the toolkit would pass them to PostgreSQL, which answers with an error (a 500)."""

from django.urls import path, re_path
from oauth2_provider import views as oauth2_views

from . import views
from .views import nul_refused

app_name = "oauth2_provider"

urlpatterns = [
    path("authorize/", nul_refused(views.AuthorizeView.as_view()), name="authorize"),
    path("token/", nul_refused(oauth2_views.TokenView.as_view()), name="token"),
    path("revoke_token/", nul_refused(oauth2_views.RevokeTokenView.as_view()), name="revoke-token"),
    path("introspect/", nul_refused(views.IntrospectTokenView.as_view()), name="introspect"),
    re_path(
        r"^\.well-known/openid-configuration/?$",
        nul_refused(views.DiscoveryView.as_view()),
        name="oidc-connect-discovery-info",
    ),
    # RFC 8414 metadata; the toolkit also derives the RFC 9207 `iss` response parameter from it.
    path(
        ".well-known/oauth-authorization-server",
        nul_refused(oauth2_views.OAuthServerMetadataView.as_view()),
        name="oauth-server-metadata",
    ),
    path(
        ".well-known/jwks.json", nul_refused(oauth2_views.JwksInfoView.as_view()), name="jwks-info"
    ),
    path("userinfo/", nul_refused(oauth2_views.UserInfoView.as_view()), name="user-info"),
    path("logout/", nul_refused(views.LogoutView.as_view()), name="rp-initiated-logout"),
]
