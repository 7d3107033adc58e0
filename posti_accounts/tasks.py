from celery import shared_task
from django.conf import settings
from django.core.mail import EmailMultiAlternatives


@shared_task(
    bind=True,
    autoretry_for=(OSError,),
    retry_backoff=True,
    retry_backoff_max=600,
    max_retries=8,
    acks_late=True,
)
def email_deliver(self, to: str, subject: str, text: str, html: str = "") -> None:
    """Send one already-rendered message. Retries transient network errors with backoff."""
    message = EmailMultiAlternatives(subject, text, settings.DEFAULT_FROM_EMAIL, [to])
    if html:
        message.attach_alternative(html, "text/html")
    message.send()


@shared_task(acks_late=True)
def user_sessions_prune() -> int:
    """Periodic: drop tracking rows of sessions that timed out (idempotent)."""
    from .sessions import user_sessions_prune as prune

    return prune()
