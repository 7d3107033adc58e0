"""The project's shared kernel: the few pieces every app needs that are about no app's data.

Plain Python, not a Django app, below every app (it imports none of them): the one error
type services raise (`errors.ApplicationError`) and the one way a secret token is stored
(`tokens.token_hash`). Audit recording and single-email sending stay in `posti_accounts`:
both write rows about accounts (AuditEvent targets users; the outbox belongs to the people
it mails). See README, "Design notes".
"""
