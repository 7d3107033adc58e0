from celery import shared_task


@shared_task(
    bind=True,
    autoretry_for=(OSError,),
    retry_backoff=True,
    retry_backoff_max=600,
    max_retries=8,
    acks_late=True,
)
def email_deliver(self, email_id: int) -> str:
    """Send one outbox row (`posti_accounts.OutboundEmail`): the message carries only its id,
    never the address, body or a link. Retries transient network errors with backoff; the
    row's own attempt count decides when to give up (see `emails.outbound_email_send`)."""
    from .emails import outbound_email_send

    return outbound_email_send(email_id=email_id)


@shared_task(acks_late=True)
def outbound_emails_sweep() -> int:
    """Periodic: queue again outbox rows the broker lost or never got; prune old rows."""
    from .emails import outbound_emails_sweep as sweep

    return sweep()


@shared_task(acks_late=True)
def user_sessions_prune() -> int:
    """Periodic: drop tracking rows of sessions that timed out (idempotent)."""
    from .sessions import user_sessions_prune as prune

    return prune()
