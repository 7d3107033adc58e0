"""allauth login stage: ask for a TOTP or backup code when the user has 2FA on."""

from __future__ import annotations

from allauth.account.stages import LoginStage
from allauth.core.internal.httpkit import headed_redirect_response

from .twofactor import user_has_2fa

STAGE_KEY = "posti_accounts_2fa"


class TwoFactorStage(LoginStage):
    key = STAGE_KEY
    urlname = "posti_accounts:twofactor_authenticate"

    def handle(self):
        user = self.login.user
        if user is None or not user_has_2fa(user):
            return None, True
        self.state["required"] = True
        # The password has been proved: a session key planted before it (fixation) must not
        # carry this half-done login; Django cycles the key again when the code completes it.
        self.request.session.cycle_key()
        return headed_redirect_response(self.urlname), True
