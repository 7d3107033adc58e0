"""The authorization and logout endpoints, with the e-service gate in front of the toolkit's
views. Anonymous users are sent to the portal's login (allauth, with 2FA) by the toolkit's
LoginRequiredMixin; pending required actions are handled by RequiredActionsMiddleware."""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from functools import wraps
from urllib.parse import unquote_plus

from django.contrib.auth import logout
from django.contrib.auth.views import redirect_to_login
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.urls import reverse
from oauth2_provider.models import get_access_token_model, get_application_model
from oauth2_provider.views import (
    AuthorizationView,
    ConnectDiscoveryInfoView,
    RPInitiatedLogoutView,
)
from oauth2_provider.views import (
    IntrospectTokenView as ToolkitIntrospectTokenView,
)

from posti_accounts.audit import audit_event_record
from posti_accounts.twofactor import user_has_2fa

from .selectors import Refusal, relying_party_get, sso_access_refusal

REFUSAL_ACTIONS_PENDING = "required_actions"


def _has_nul(request: HttpRequest) -> bool:
    """Whether any parameter or the client credentials hold a NUL character: PostgreSQL refuses
    them in text, so the toolkit's lookups (client id, code, token) would fail with a 500."""
    for data in (request.GET, request.POST):
        for key, values in data.lists():
            if "\x00" in key or any("\x00" in v for v in values):
                return True
    header = request.META.get("HTTP_AUTHORIZATION", "")
    if header[:6].lower() == "basic ":  # bearer tokens are only ever hashed, never queried
        try:
            credentials = base64.b64decode(header[6:].strip()).decode("utf-8", "replace")
        except (binascii.Error, ValueError):
            return False  # the toolkit answers malformed credentials itself
        # The toolkit URL-decodes the client id and secret of Basic credentials (RFC 6749).
        return "\x00" in credentials or "\x00" in unquote_plus(credentials)
    return False


def nul_refused(view):
    """Answer a request carrying NUL characters with the OAuth `invalid_request` error."""

    @wraps(view)
    def wrapper(request, *args, **kwargs):
        if _has_nul(request):
            return JsonResponse(
                {"error": "invalid_request", "error_description": "Invalid characters."},
                status=400,
            )
        return view(request, *args, **kwargs)

    return wrapper


class AuthorizeView(AuthorizationView):
    template_name = "sso/authorize.html"

    def _gate(self, request: HttpRequest) -> HttpResponse | None:
        client_id = request.POST.get("client_id") or request.GET.get("client_id") or ""
        application = (
            get_application_model().objects.filter(client_id=client_id).first()
            if client_id and len(client_id) <= 100
            else None
        )
        if application is None:
            return None  # the toolkit answers an unknown client with its own error page
        relying_party = relying_party_get(client_id=client_id)
        refusal = sso_access_refusal(user=request.user, relying_party=relying_party)
        if refusal is None and request.user.required_actions:
            refusal = Refusal(REFUSAL_ACTIONS_PENDING, "")
        if refusal is None:
            return None
        audit_event_record(
            actor=request.user,
            action="sso.refused",
            target_user=request.user,
            request=request,
            details={"client_id": client_id, "reason": refusal.code},
        )
        context = {
            "refusal": refusal,
            "application": application,
            "eservice": relying_party.eservice if relying_party else None,
        }
        return render(request, "sso/refused.html", context, status=403)

    def _second_factor_missing(self, request: HttpRequest) -> HttpResponse | None:
        """The login stage completes 2FA before the session is authenticated, so this only
        catches a session that skipped it: start over with a full login."""
        user = request.user
        if user_has_2fa(user) and not user.is_verified():
            logout(request)
            return redirect_to_login(request.get_full_path())
        return None

    def get(self, request, *args, **kwargs):
        return (
            self._second_factor_missing(request)
            or self._gate(request)
            or super().get(request, *args, **kwargs)
        )

    def post(self, request, *args, **kwargs):
        return (
            self._second_factor_missing(request)
            or self._gate(request)
            or super().post(request, *args, **kwargs)
        )


class IntrospectTokenView(ToolkitIntrospectTokenView):
    """RFC 7662 introspection that also answers `active: false` for a token whose user is no
    longer active, like the bearer-token validator (a user deactivated without the services,
    whose token rows still exist)."""

    @staticmethod
    def get_token_response(token_value=None):
        response = ToolkitIntrospectTokenView.get_token_response(token_value)
        if response.status_code == 200 and token_value:
            data = json.loads(response.content)
            if data.get("active") and not _token_user_active(token_value):
                return JsonResponse({"active": False}, status=200)
        return response


def _token_user_active(token_value: str) -> bool:
    checksum = hashlib.sha256(token_value.encode("utf-8")).hexdigest()
    token = (
        get_access_token_model()
        .objects.filter(token_checksum=checksum)
        .values_list("user__is_active", flat=True)
        .first()
    )
    return token is not False  # None: a client-credentials token without a user


class LogoutView(RPInitiatedLogoutView):
    template_name = "sso/logout_confirm.html"


class DiscoveryView(ConnectDiscoveryInfoView):
    """The toolkit's discovery document, narrowed to what this provider does: ID tokens are
    only RS256-signed (clients are registered with RS256), only code + refresh grants."""

    def get(self, request, *args, **kwargs):
        response = super().get(request, *args, **kwargs)
        data = json.loads(response.content)
        data["id_token_signing_alg_values_supported"] = ["RS256"]
        data["grant_types_supported"] = ["authorization_code", "refresh_token"]
        data["revocation_endpoint"] = request.build_absolute_uri(
            reverse("oauth2_provider:revoke-token")
        )
        data["ui_locales_supported"] = ["fi", "sv", "en"]
        out = JsonResponse(data)
        out["Access-Control-Allow-Origin"] = "*"
        return out
