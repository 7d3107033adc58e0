"""Reactions of the notifications app to events of lower floors and of django-anymail.

Connected from `NotificationsConfig.ready` (tests/test_receivers.py lists them)."""

from __future__ import annotations

from anymail.signals import tracking
from django.dispatch import receiver

from posti_accounts import signals

from . import deliverability


@receiver(signals.email_verified, dispatch_uid="notifications.email_verified")
def on_email_verified(sender, user, request=None, **kwargs) -> None:
    """A new or re-verified address works: it is no longer marked as undeliverable."""
    deliverability.email_undeliverable_clear(user=user, request=request)


@receiver(tracking, dispatch_uid="notifications.email_tracking")
def on_email_tracking(sender, event, esp_name, **kwargs) -> None:
    """A tracking webhook event: a bounce, rejection or complaint marks the address."""
    deliverability.tracking_event_record(event=event, esp_name=esp_name)
