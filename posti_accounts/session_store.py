"""Django's database session store with fewer round trips on the login path.

- A new key is taken without first asking the database whether it exists: 32 random
  characters never collide in practice, and if one did, the INSERT's unique key refuses it and
  `create()` draws another (CreateError), as Django's store does after its own check.
- `cycle_key()` (every login, and the 2FA stage) only picks the new key and deletes the old
  row; the new row is written once, by SessionMiddleware at the end of the request, instead of
  an INSERT inside the login's transaction followed by an UPDATE with the final data.
- Outside a transaction a save is one statement in autocommit, without an atomic block.

Set as SESSION_ENGINE = "posti_accounts.session_store".
"""

from __future__ import annotations

from django.contrib.sessions.backends.base import VALID_KEY_CHARS, CreateError, UpdateError
from django.contrib.sessions.backends.db import SessionStore as DbSessionStore
from django.db import DatabaseError, IntegrityError, router, transaction
from django.utils.crypto import get_random_string


class SessionStore(DbSessionStore):
    def __init__(self, session_key=None):
        super().__init__(session_key)
        self._unsaved_key = False

    def _get_new_session_key(self) -> str:
        return get_random_string(32, VALID_KEY_CHARS)

    def cycle_key(self) -> None:
        data = self._session
        old_key = self.session_key
        self._session_key = self._get_new_session_key()
        self._session_cache = data
        self._unsaved_key = True
        self.modified = True
        if old_key:
            self.delete(old_key)

    def save(self, must_create: bool = False) -> None:
        if self.session_key is None:
            return self.create()
        must_create = must_create or self._unsaved_key
        data = self._get_session(no_load=must_create)
        obj = self.create_model_instance(data)
        using = router.db_for_write(self.model, instance=obj)
        in_transaction = transaction.get_connection(using).in_atomic_block
        try:
            if in_transaction:
                with transaction.atomic(using=using):
                    obj.save(force_insert=must_create, force_update=not must_create, using=using)
            else:
                obj.save(force_insert=must_create, force_update=not must_create, using=using)
        except IntegrityError as error:
            if must_create:
                if self._unsaved_key:
                    # The drawn key was taken: draw again (the data stays).
                    self._session_key = self._get_new_session_key()
                    return self.save(must_create=True)
                raise CreateError from error
            raise
        except DatabaseError as error:
            if not must_create:
                raise UpdateError from error
            raise
        self._unsaved_key = False

    def delete(self, session_key: str | None = None) -> None:
        if session_key is None:
            if self.session_key is None:
                return
            session_key = self.session_key
        self.model.objects.filter(session_key=session_key).delete()
