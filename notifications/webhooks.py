"""The email provider's tracking webhooks (django-anymail): bounces, rejections, complaints
and deliveries arrive here and anymail's `tracking` signal carries them to
`receivers.on_email_tracking`.

Only the configured provider's endpoint answers (`ANYMAIL_ESP`), at anymail's own path
(`<esp>/tracking/`), and only when `ANYMAIL["WEBHOOK_SECRET"]` is set: anymail then checks
the HTTP basic auth, and the provider's signature where it signs (Mailgun). Unknown
providers are 404; a bad payload is 400, never a 500.
"""

from __future__ import annotations

import logging

from anymail.exceptions import AnymailConfigurationError, AnymailWebhookValidationFailure
from django.conf import settings
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseBadRequest
from django.utils.module_loading import import_string
from django.views.decorators.csrf import csrf_exempt

logger = logging.getLogger(__name__)

# Amazon SES would need boto3, which the lock does not include.
TRACKING_VIEWS = {
    "mailgun": "anymail.webhooks.mailgun.MailgunTrackingWebhookView",
    "postmark": "anymail.webhooks.postmark.PostmarkTrackingWebhookView",
    "sendgrid": "anymail.webhooks.sendgrid.SendGridTrackingWebhookView",
}


def tracking_enabled(esp: str) -> bool:
    anymail = getattr(settings, "ANYMAIL", {}) or {}
    return (
        esp in TRACKING_VIEWS
        and esp == getattr(settings, "ANYMAIL_ESP", "")
        and bool(anymail.get("WEBHOOK_SECRET"))
    )


@csrf_exempt
def tracking_webhook(request: HttpRequest, esp: str) -> HttpResponse:
    if not tracking_enabled(esp):
        raise Http404
    try:
        view = import_string(TRACKING_VIEWS[esp]).as_view()
        return view(request)
    except AnymailWebhookValidationFailure:
        # Wrong basic auth or signature. Nothing of the request is logged (it may hold
        # the credentials).
        logger.warning("email tracking webhook (%s): validation failed", esp)
        return HttpResponseBadRequest()
    except AnymailConfigurationError:
        logger.error("email tracking webhook (%s): provider not configured", esp)
        return HttpResponse(status=503)
    except (ValueError, KeyError, TypeError, AttributeError):
        logger.warning("email tracking webhook (%s): unreadable payload", esp)
        return HttpResponseBadRequest()
