"""Writes for single sign-on: registering e-service clients. Staff do this in the admin
(`sso/admin.py`), which calls these services."""

from __future__ import annotations

from django.db import transaction
from django.http import HttpRequest
from oauth2_provider.generators import generate_client_secret
from oauth2_provider.models import get_application_model

from organizations.models import EService
from posti_accounts.audit import audit_event_record
from posti_accounts.models import User

from .models import RelyingParty

Application = get_application_model()


@transaction.atomic
def relying_party_link(
    *,
    application,
    eservice: EService,
    first_party: bool,
    actor: User | None,
    request: HttpRequest | None = None,
) -> RelyingParty:
    """Link an OAuth application to its e-service. The first-party flag drives the toolkit's
    own consent skip (`Application.skip_authorization`), kept in step here."""
    relying_party, created = RelyingParty.objects.update_or_create(
        application=application, defaults={"eservice": eservice, "first_party": first_party}
    )
    if application.skip_authorization != first_party:
        application.skip_authorization = first_party
        Application.objects.filter(pk=application.pk).update(skip_authorization=first_party)
    audit_event_record(
        actor=actor,
        action="sso.client_linked" if created else "sso.client_updated",
        request=request,
        details={
            "client_id": application.client_id,
            "client_name": application.name,
            "eservice": eservice.code,
            "first_party": first_party,
        },
    )
    return relying_party


@transaction.atomic
def relying_party_register(
    *,
    name: str,
    eservice: EService,
    redirect_uris: list[str],
    post_logout_redirect_uris: list[str] | None = None,
    first_party: bool = False,
    confidential: bool = True,
    actor: User | None,
    request: HttpRequest | None = None,
) -> tuple[RelyingParty, str]:
    """Create an authorization-code client for an e-service. Returns the link and the client
    secret, which is stored only as a hash and so can be shown this once."""
    secret = generate_client_secret()
    application = Application(
        name=name,
        client_type=(
            Application.CLIENT_CONFIDENTIAL if confidential else Application.CLIENT_PUBLIC
        ),
        authorization_grant_type=Application.GRANT_AUTHORIZATION_CODE,
        redirect_uris=" ".join(redirect_uris),
        post_logout_redirect_uris=" ".join(post_logout_redirect_uris or []),
        algorithm=Application.RS256_ALGORITHM,
        client_secret=secret,
        hash_client_secret=True,
        skip_authorization=first_party,
    )
    application.full_clean(exclude=["user"])
    application.save()
    relying_party = relying_party_link(
        application=application,
        eservice=eservice,
        first_party=first_party,
        actor=actor,
        request=request,
    )
    return relying_party, secret
