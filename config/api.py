"""Shared pieces of the REST API: authentication policy, scopes, pagination, throttles and the
one error format.

Every error is `{"error": {"code": "...", "message": "...", "fields": {...}}}` with a stable,
machine-readable `code`: a rule violation (`ApplicationError`) is a 400 with the service's own
code, a missing or foreign id a 404 `not_found`, and so on.
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404, JsonResponse
from django.utils.translation import gettext_lazy as _
from django.views.decorators.csrf import csrf_exempt
from oauth2_provider.contrib.rest_framework import OAuth2Authentication, TokenHasScope
from rest_framework import exceptions, pagination, serializers, status, throttling
from rest_framework.response import Response
from rest_framework.settings import api_settings

from kernel.errors import ApplicationError

MSG_NOT_FOUND = _("Not found.")
MSG_PERMISSION_DENIED = _("You do not have permission to do this.")
MSG_SCOPE_MISSING = _("The access token does not have the scope this operation needs.")
MSG_INVALID = _("The request is not valid.")
MSG_TOKEN_INVALID = _("The access token is not valid or has expired.")
MSG_REQUIRED_ACTIONS_PENDING = _(
    "Complete the actions your account needs in the portal before using the API."
)


# --- authentication and scopes ----------------------------------------------------------------


class BearerTokenAuthentication(OAuth2Authentication):
    """OAuth2 bearer tokens. A request that presents one is authenticated by it or refused
    (401): a revoked or expired token never falls back to a browser session."""

    def authenticate(self, request):
        result = super().authenticate(request)
        header = request.META.get("HTTP_AUTHORIZATION", "")
        if result is None and header[:7].lower() == "bearer ":
            raise exceptions.AuthenticationFailed(MSG_TOKEN_INVALID, code="invalid_token")
        return result


def request_token(request) -> Any | None:
    """The OAuth2 access token the request was authenticated with, or None (session)."""
    token = getattr(request, "auth", None)
    return token if hasattr(token, "allow_scopes") else None


class HasRequiredScopes(TokenHasScope):
    """An authenticated, active user. With a bearer token, the token must also hold the view's
    `required_scopes` (all of them, and it must be valid); a browser session is the user
    acting in the portal itself and needs no scopes, but it is refused (403
    `required_actions_pending`) while the user has required actions pending, as every page
    but the actions' own is (bearer tokens are not issued to such a user in the first place).
    (A TokenHasScope subclass so the OpenAPI schema lists each operation's scopes.)"""

    message = MSG_PERMISSION_DENIED

    def get_scopes(self, request, view) -> list[str]:
        return list(getattr(view, "required_scopes", None) or [])

    def has_permission(self, request, view) -> bool:
        user = request.user
        if not (user and user.is_authenticated and user.is_active):
            return False
        token = request_token(request)
        if token is None:
            if user.required_actions:
                self.message = MSG_REQUIRED_ACTIONS_PENDING
                self.code = "required_actions_pending"
                return False
            return True
        if token.is_valid(self.get_scopes(request, view)):
            return True
        self.message = MSG_SCOPE_MISSING
        self.code = "insufficient_scope"
        return False


# --- pagination and throttles -----------------------------------------------------------------


class PageNumberPagination(pagination.PageNumberPagination):
    page_size_query_param = "page_size"
    max_page_size = 200


class _SettingsRateMixin:
    """Read the rate when the throttle is used, not at import time, so settings changes
    (environment, tests) apply."""

    def get_rate(self):
        return api_settings.DEFAULT_THROTTLE_RATES.get(self.scope)


class UserThrottle(_SettingsRateMixin, throttling.UserRateThrottle):
    pass


class AnonThrottle(_SettingsRateMixin, throttling.AnonRateThrottle):
    pass


# --- errors -----------------------------------------------------------------------------------


class ErrorDetailSerializer(serializers.Serializer):
    code = serializers.CharField()
    message = serializers.CharField()
    fields = serializers.DictField(
        child=serializers.ListField(child=serializers.CharField()), required=False
    )


class ErrorSerializer(serializers.Serializer):
    """The one error format (documented on every operation)."""

    error = ErrorDetailSerializer()


def error_response(
    code: str, message: Any, http_status: int, fields: dict | None = None, headers=None
) -> Response:
    body = {"error": {"code": code, "message": str(message), "fields": fields or {}}}
    return Response(body, status=http_status, headers=headers)


def _field_errors(detail: Any) -> dict[str, list[str]]:
    if isinstance(detail, dict):
        out: dict[str, list[str]] = {}
        for name, value in detail.items():
            if isinstance(value, dict):
                for sub, messages in _field_errors(value).items():
                    key = name if sub == api_settings.NON_FIELD_ERRORS_KEY else f"{name}.{sub}"
                    out[key] = messages
            elif isinstance(value, list):
                flat: list[str] = []
                for item in value:
                    if isinstance(item, dict):
                        for sub, messages in _field_errors(item).items():
                            out[f"{name}.{sub}"] = messages
                    else:
                        flat.append(str(item))
                if flat:
                    out[name] = flat
            else:
                out[name] = [str(value)]
        return out
    if isinstance(detail, list):
        return {api_settings.NON_FIELD_ERRORS_KEY: [str(d) for d in detail]}
    return {api_settings.NON_FIELD_ERRORS_KEY: [str(detail)]}


def api_exception_handler(exc: Exception, context: dict) -> Response | None:
    if isinstance(exc, ApplicationError):
        # A rule violation is a 400, unless the service names another status (a quota: 429).
        retry_after = exc.extra.get("retry_after")
        return error_response(
            exc.code,
            exc.message,
            exc.extra.get("http_status", status.HTTP_400_BAD_REQUEST),
            exc.extra.get("fields"),
            headers={"Retry-After": str(retry_after)} if retry_after else None,
        )
    if isinstance(exc, Http404):
        return error_response("not_found", MSG_NOT_FOUND, status.HTTP_404_NOT_FOUND)
    if isinstance(exc, DjangoPermissionDenied):
        return error_response("permission_denied", MSG_PERMISSION_DENIED, status.HTTP_403_FORBIDDEN)
    if isinstance(exc, DjangoValidationError):
        exc = exceptions.ValidationError(
            exc.message_dict if hasattr(exc, "error_dict") else exc.messages
        )
    if isinstance(exc, exceptions.ValidationError):
        return error_response(
            "invalid", MSG_INVALID, status.HTTP_400_BAD_REQUEST, _field_errors(exc.detail)
        )
    # Imported here: rest_framework.views loads the settings that name this module.
    from rest_framework.views import exception_handler as drf_exception_handler

    response = drf_exception_handler(exc, context)
    if response is None or not isinstance(exc, exceptions.APIException):
        return response
    detail = exc.detail
    if isinstance(detail, dict):
        message = detail.get("detail", exc.default_detail)
        code = getattr(message, "code", None) or exc.default_code
    else:
        message = detail
        code = getattr(detail, "code", None) or exc.default_code
    return error_response(
        str(code), message, response.status_code, headers=dict(response.headers.items())
    )


@csrf_exempt  # it changes nothing; without this an unknown path's POST would be a CSRF 403
def not_found_view(request, *args, **kwargs):
    """Unknown `/api/v1/` paths: a JSON 404 in the one error format."""
    return JsonResponse(
        {"error": {"code": "not_found", "message": str(MSG_NOT_FOUND), "fields": {}}},
        status=404,
    )
