"""Writes for users and their own details. Every function takes keyword-only arguments and
records an audit event in the same transaction as its change."""

from __future__ import annotations

from typing import Any

from allauth.account.models import EmailAddress
from django.db import IntegrityError, transaction
from django.http import HttpRequest
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from kernel.actors import actor_user
from kernel.errors import ApplicationError

from . import signals
from .audit import audit_event_record, audit_events_bulk_record
from .models import REQUIRED_ACTION_FIELDS, AuditEvent, RequiredAction, User, UserManager

MSG_EMAIL_TAKEN = _("An account with this email address already exists.")
MSG_UNKNOWN_ACTION = _("Unknown required action.")


@transaction.atomic
def user_create(
    *,
    email: str,
    password: str | None = None,
    first_name: str = "",
    last_name: str = "",
    phone: str = "",
    preferred_language: str = "fi",
    email_verified: bool = False,
    required_actions: list[str] | None = None,
    actor: User | None = None,
    request: HttpRequest | None = None,
    is_staff: bool = False,
) -> User:
    """Create a user with its allauth EmailAddress row (the two always exist together)."""
    email = UserManager.normalize_email(email)
    if User.objects.filter(email=email).exists():
        raise ApplicationError(MSG_EMAIL_TAKEN, code="email_taken")
    user = User(
        email=email,
        first_name=first_name,
        last_name=last_name,
        phone=phone,
        preferred_language=preferred_language,
        is_staff=is_staff,
    )
    for action in required_actions or []:
        setattr(user, REQUIRED_ACTION_FIELDS[action], True)
    if password:
        user.set_password(password)
        user.password_changed_at = timezone.now()
    else:
        user.set_unusable_password()
    try:
        with transaction.atomic():
            user.save()
    except IntegrityError as exc:  # lost a race with another request for the same email
        raise ApplicationError(MSG_EMAIL_TAKEN, code="email_taken") from exc
    EmailAddress.objects.create(user=user, email=email, primary=True, verified=email_verified)
    audit_event_record(
        actor=actor,
        action="user.created",
        target_user=user,
        request=request,
        details={"email_verified": email_verified},
    )
    return user


@transaction.atomic
def user_required_action_set(
    *, user: User, action: str, actor: User | None = None, request: HttpRequest | None = None
) -> None:
    field = REQUIRED_ACTION_FIELDS.get(action)
    if field is None:
        raise ApplicationError(MSG_UNKNOWN_ACTION, code="unknown_action")
    if getattr(user, field):
        return
    setattr(user, field, True)
    user.save(update_fields=[field])
    audit_event_record(
        actor=actor,
        action="required_action.set",
        target_user=user,
        request=request,
        details={"action": action},
    )


@transaction.atomic
def user_required_action_complete(
    *, user: User, action: str, request: HttpRequest | None = None
) -> bool:
    """Clear one required action; returns whether it was pending."""
    field = REQUIRED_ACTION_FIELDS.get(action)
    if field is None:
        raise ApplicationError(MSG_UNKNOWN_ACTION, code="unknown_action")
    updated = User.objects.filter(pk=user.pk, **{field: True}).update(**{field: False})
    setattr(user, field, False)
    if updated:
        audit_event_record(
            actor=user,
            action="required_action.completed",
            target_user=user,
            request=request,
            details={"action": action},
        )
    return bool(updated)


@transaction.atomic
def user_email_verified(*, user: User, email: str, request: HttpRequest | None = None) -> None:
    """Called whenever a user proves they own their primary address (allauth confirmation,
    a campaign action link). Clears `verify_email` and sends `signals.email_verified` (the
    organizations app then activates memberships that waited for it: DESIGN invariant 6)."""
    email = UserManager.normalize_email(email)
    if email != user.email:
        return
    EmailAddress.objects.filter(user=user, email=email).update(verified=True)
    audit_event_record(
        actor=user, action="email.verified", target_user=user, request=request, details={}
    )
    user_required_action_complete(user=user, action=RequiredAction.VERIFY_EMAIL, request=request)
    signals.email_verified.send(sender=User, user=user, request=request)


@transaction.atomic
def user_password_changed(*, user: User, request: HttpRequest | None = None) -> None:
    """Called after any password change or reset. Records when, clears `update_password`,
    and sends `signals.password_changed` (the migration app then discards the user's legacy
    password hashes)."""
    user.password_changed_at = timezone.now()
    user.save(update_fields=["password_changed_at"])
    audit_event_record(
        actor=user, action="password.changed", target_user=user, request=request, details={}
    )
    user_required_action_complete(user=user, action=RequiredAction.UPDATE_PASSWORD, request=request)
    signals.password_changed.send(sender=User, user=user, request=request)


@transaction.atomic
def user_password_set(*, user: User, password: str, request: HttpRequest | None = None) -> None:
    """The one way a new password is set (change, reset, required action, campaign link).

    Hashes and saves it, records the change (`user_password_changed`), then ends every other
    session and revokes the user's OAuth tokens; the session of `request` stays logged in only
    when it is the user's own (it finishes what it was doing)."""
    from django.contrib.auth import HASH_SESSION_KEY

    from .sessions import user_sessions_end

    user.set_password(password)
    user.save(update_fields=["password"])
    user_password_changed(user=user, request=request)
    browser = request if request is not None and hasattr(request, "session") else None
    own = (
        browser is not None
        and getattr(browser, "user", None) is not None
        and browser.user.is_authenticated
        and browser.user.pk == user.pk
    )
    user_sessions_end(user=user, actor=user, request=browser, keep_current=own, reason="password")
    if own and browser is not None:
        # Still valid under the new password hash; same key, so its tracking row stays right.
        browser.session[HASH_SESSION_KEY] = user.get_session_auth_hash()


@transaction.atomic
def user_details_confirm(*, user: User, request: HttpRequest | None = None) -> None:
    """'My details are correct': records the time and clears `check_details`."""
    user.details_confirmed_at = timezone.now()
    user.save(update_fields=["details_confirmed_at"])
    audit_event_record(
        actor=user, action="details.confirmed", target_user=user, request=request, details={}
    )
    user_required_action_complete(user=user, action=RequiredAction.CHECK_DETAILS, request=request)


PROFILE_FIELDS = ("first_name", "last_name", "phone", "preferred_language")


@transaction.atomic
def user_details_update(
    *, user: User, actor: User, request: HttpRequest | None = None, **fields: Any
) -> list[str]:
    """Update a user's own details (name, phone, language). Returns the changed field names.

    Only PROFILE_FIELDS can be changed here: the email changes through allauth's verified
    flow, staff flags only in the admin. `phone` must already be E.164 (the form and the API
    serializer normalize it with `posti_accounts.phone.phone_normalize`)."""
    unknown = set(fields) - set(PROFILE_FIELDS)
    if unknown:
        raise ApplicationError(
            _("These fields cannot be changed here: %(fields)s")
            % {"fields": ", ".join(sorted(unknown))},
            code="field_not_editable",
        )
    changed = [name for name, value in fields.items() if getattr(user, name) != value]
    if not changed:
        return []
    old = {name: getattr(user, name) for name in changed}
    for name in changed:
        setattr(user, name, fields[name])
    user.save(update_fields=changed)
    audit_event_record(
        actor=actor,
        action="details.updated",
        target_user=user,
        request=request,
        details={"fields": changed, "old": old, "new": {n: fields[n] for n in changed}},
    )
    return changed


@transaction.atomic
def users_unverified_credentials_end(
    *, user_ids: list[int], actor: User | None, reason: str
) -> list[int]:
    """DESIGN invariant 8: access never flows to a password set before its address was
    verified. Called before a merge, a staff appointment or any other grant joins access onto
    existing accounts: for each of `user_ids` whose primary address is not verified, the
    password becomes unusable, `verify_email` and `update_password` are required, and every
    session and OAuth token ends. Whoever set that password (perhaps someone who signed up
    with another person's address) must now prove the mailbox and set a new password.
    Returns the ids of the accounts it reset. Set-based: fine for a merge batch."""
    from django.contrib.auth.hashers import UNUSABLE_PASSWORD_PREFIX, make_password
    from django.contrib.sessions.models import Session

    from .models import UserSession
    from .sessions import user_oauth_tokens_revoke

    verified = EmailAddress.objects.filter(
        user_id__in=user_ids, verified=True, primary=True
    ).values_list("user_id", flat=True)
    # An unusable password ("!...") rests on nothing; only a usable one could be someone else's.
    ids = list(
        User.objects.filter(pk__in=user_ids)
        .exclude(pk__in=verified)
        .exclude(password__startswith=UNUSABLE_PASSWORD_PREFIX)
        .values_list("pk", flat=True)
    )
    if not ids:
        return []
    User.objects.filter(pk__in=ids).update(
        password=make_password(None), requires_verify_email=True, requires_update_password=True
    )
    keys = list(UserSession.objects.filter(user_id__in=ids).values_list("session_key", flat=True))
    Session.objects.filter(session_key__in=keys).delete()
    UserSession.objects.filter(user_id__in=ids).delete()
    user_oauth_tokens_revoke(user_ids=ids)
    audit_events_bulk_record(
        [
            AuditEvent(
                actor=actor_user(actor),
                action="credentials.reset_unverified",
                target_user_id=pk,
                details={"reason": reason},
            )
            for pk in ids
        ]
    )
    return ids
