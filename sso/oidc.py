"""The OpenID Connect validator: claims, and the e-service gate at the token endpoint."""

from __future__ import annotations

from oauth2_provider.oauth2_validators import OAuth2Validator
from oauthlib.oauth2.rfc6749.errors import AccessDeniedError

from posti_accounts.audit import audit_event_record
from posti_accounts.selectors import user_primary_email_verified

from .selectors import organizations_claim, relying_party_get, sso_access_refusal

# Claim -> scope that releases it (OIDC Core 5.4, plus our `organizations`).
CLAIM_SCOPES = {
    "sub": "openid",
    "given_name": "profile",
    "family_name": "profile",
    "name": "profile",
    "locale": "profile",
    "email": "email",
    "email_verified": "email",
    "organizations": "organizations",
}


def _user_claims(request) -> dict:
    # Callables: a claim is computed only when its scope was granted (no query otherwise).
    return {
        # The stable public identifier, never the database id.
        "sub": lambda r: str(r.user.uuid),
        "given_name": lambda r: r.user.first_name,
        "family_name": lambda r: r.user.last_name,
        "name": lambda r: r.user.get_full_name(),
        "locale": lambda r: r.user.preferred_language,
        "email": lambda r: r.user.email,
        "email_verified": lambda r: user_primary_email_verified(user=r.user),
        "organizations": lambda r: organizations_claim(user=r.user),
    }


class OIDCValidator(OAuth2Validator):
    oidc_claim_scope = CLAIM_SCOPES

    def get_claim_dict(self, request):
        return _user_claims(request)

    def get_discovery_claims(self, request):
        return list(CLAIM_SCOPES)

    # --- the e-service gate, enforced again wherever a token is minted -------------------

    def _refused(self, request, client_id: str) -> bool:
        relying_party = relying_party_get(client_id=client_id)
        return sso_access_refusal(user=request.user, relying_party=relying_party) is not None

    def save_authorization_code(self, client_id, code, request, *args, **kwargs):
        """No code for a user the e-service refuses or who has required actions pending.
        The authorization view shows the page for both before it gets here."""
        if request.user.required_actions or self._refused(request, client_id):
            raise AccessDeniedError(request=request)
        super().save_authorization_code(client_id, code, request, *args, **kwargs)
        audit_event_record(
            actor=request.user,
            action="sso.authorized",
            target_user=request.user,
            details={"client_id": client_id, "scopes": list(request.scopes or [])},
        )

    def validate_code(self, client_id, code, client, request, *args, **kwargs):
        if not super().validate_code(client_id, code, client, request, *args, **kwargs):
            return False
        return not self._refused(request, client.client_id)

    def validate_bearer_token(self, token, scopes, request):
        """An access token stops working when its user is deactivated (`/o/userinfo/` and
        any resource server that checks tokens through this validator)."""
        if not super().validate_bearer_token(token, scopes, request):
            return False
        user = request.access_token.user
        return user is None or user.is_active

    def validate_refresh_token(self, refresh_token, client, request, *args, **kwargs):
        if not super().validate_refresh_token(refresh_token, client, request, *args, **kwargs):
            return False
        return request.user.is_active and not self._refused(request, client.client_id)
