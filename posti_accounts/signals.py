"""Account events that higher apps react to. This app sends them and knows nothing of who
listens: each reacting app connects its receivers in its own `receivers.py` from
`AppConfig.ready` (tests/test_receivers.py lists them and proves each runs).

Receivers run inside the sender's transaction, so a reaction happens exactly when the account
change does; a receiver that raises `ApplicationError` refuses the change (the sender uses
`send`, never `send_robust`, so no refusal is lost).
"""

from django.dispatch import Signal

# The user proved they own their primary address. Kwargs: user, request.
email_verified = Signal()

# The user has a new password (set, changed, reset or renewed). Kwargs: user, request.
password_changed = Signal()

# The user is about to be deactivated or deleted; a receiver may raise ApplicationError to
# refuse (e.g. the last main user of an organization). Kwargs: user.
user_deactivation_requested = Signal()

# A login was refused for too many attempts (allauth's "too_many_login_attempts"), before any
# password was checked. Kwargs: request. For metrics; nothing may refuse it.
login_throttled = Signal()
