"""OpenAPI generation: every operation documents the one error format for the statuses the API
can answer with (kept out of config/api.py, which DRF's settings import early)."""

from __future__ import annotations

from drf_spectacular.contrib.django_oauth_toolkit import DjangoOAuthToolkitScheme
from drf_spectacular.openapi import AutoSchema

from .api import ErrorSerializer

ERROR_STATUSES = {
    "400": "Invalid input or a business rule refused the change (see `error.code`).",
    "401": "Not authenticated.",
    "403": "Not allowed, or the access token lacks a required scope.",
    "404": "No such object, or it belongs to an organization you do not manage.",
    "429": "Too many requests.",
}


class ApiAutoSchema(AutoSchema):
    def _get_response_bodies(self, direction="response"):
        responses = super()._get_response_bodies(direction)
        for code, description in ERROR_STATUSES.items():
            if code not in responses:
                response = self._get_response_for_code(ErrorSerializer, code, direction=direction)
                response["description"] = description
                responses[code] = response
        return responses


class BearerTokenScheme(DjangoOAuthToolkitScheme):
    """Documents `config.api.BearerTokenAuthentication` as the toolkit's OAuth2 scheme, with
    each operation's required scopes."""

    target_class = "config.api.BearerTokenAuthentication"
