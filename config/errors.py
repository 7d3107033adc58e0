"""The project's 500 handler: a lost database connection (PostgreSQL restarting, failing over
or unreachable) is answered with a translated 503 page, or a JSON 503 on the API and OIDC
routes, instead of a 500; nothing of the error is shown. The page needs no database (no
session, user or context processors), and Django closes the broken connection at the end of
the request (CONN_HEALTH_CHECKS reconnects on the next), so the process recovers by itself
when the database is back."""

from __future__ import annotations

import sys

from django.db import InterfaceError, OperationalError
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.template.loader import render_to_string
from django.utils.cache import add_never_cache_headers
from django.utils.translation import get_language
from django.utils.translation import gettext as _
from django.views import defaults

DATABASE_ERRORS = (OperationalError, InterfaceError)
RETRY_AFTER_SECONDS = 30
MACHINE_PREFIXES = ("/api/", "/o/")


def database_unavailable(request: HttpRequest) -> HttpResponse:
    message = _("The service is temporarily unavailable. Please try again in a moment.")
    if request.path.startswith(MACHINE_PREFIXES):
        response: HttpResponse = JsonResponse(
            {"detail": message, "code": "service_unavailable"}, status=503
        )
    else:
        html = render_to_string(
            "503.html", {"LANGUAGE_CODE": get_language() or "fi", "message": message}
        )
        response = HttpResponse(html, status=503)
    response["Retry-After"] = str(RETRY_AFTER_SECONDS)
    add_never_cache_headers(response)
    return response


def server_error(request: HttpRequest, template_name: str = "500.html") -> HttpResponse:
    """handler500: called while the uncaught exception is being handled."""
    if isinstance(sys.exc_info()[1], DATABASE_ERRORS):
        return database_unavailable(request)
    return defaults.server_error(request, template_name=template_name)
