"""Sending one email to one person: rendered in their language inside the request or task that
decides to send it, delivered by a Celery task after the transaction commits (never inside the
request). Campaign mail to millions goes through `notifications` instead."""

from __future__ import annotations

from django.db import transaction
from django.template import TemplateDoesNotExist
from django.template.loader import render_to_string
from django.utils import translation


def email_render(*, template_prefix: str, context: dict, language: str) -> tuple[str, str, str]:
    """Render `<prefix>_subject.txt`, `<prefix>_message.txt` and, if present,
    `<prefix>_message.html` in `language`. Returns (subject, text, html)."""
    with translation.override(language or "fi"):
        subject = " ".join(render_to_string(f"{template_prefix}_subject.txt", context).split())
        text = render_to_string(f"{template_prefix}_message.txt", context)
        try:
            html = render_to_string(f"{template_prefix}_message.html", context)
        except TemplateDoesNotExist:
            html = ""
    return subject, text, html


def email_send(*, to: str, template_prefix: str, context: dict, language: str = "fi") -> None:
    subject, text, html = email_render(
        template_prefix=template_prefix, context=context, language=language
    )
    email_send_rendered(to=to, subject=subject, text=text, html=html)


def email_send_rendered(*, to: str, subject: str, text: str, html: str = "") -> None:
    from .tasks import email_deliver

    transaction.on_commit(lambda: email_deliver.delay(to, subject, text, html))
