from django import template
from django.utils.translation import gettext_lazy as _

register = template.Library()

EVENT_LABELS = {
    "user.created": _("Account created"),
    "user.signed_up": _("Account created"),
    "login.succeeded": _("Logged in"),
    "login.failed": _("Failed login attempt"),
    "logout": _("Logged out"),
    "password.changed": _("Password changed"),
    "email.verified": _("Email address verified"),
    "email.change_requested": _("Email change requested"),
    "email.changed": _("Email address changed"),
    "details.updated": _("Details updated"),
    "details.confirmed": _("Details confirmed"),
    "data.exported": _("Data downloaded"),
    "required_action.set": _("Action requested"),
    "required_action.completed": _("Action completed"),
    "2fa.enabled": _("Two-factor authentication enabled"),
    "2fa.disabled": _("Two-factor authentication removed"),
    "2fa.backup_code_used": _("Backup code used"),
    "sessions.revoked": _("Other sessions logged out"),
    "legacy.login": _("Logged in with an old password"),
    "2fa.failed": _("Wrong two-factor code"),
    "2fa.backup_codes_regenerated": _("New backup codes created"),
    "session.expired": _("Session expired"),
    "profile.language_changed": _("Language changed"),
    "membership.added": _("Added to an organization"),
    "membership.activated": _("Organization membership activated"),
    "membership.removed": _("Removed from an organization"),
    "membership.left": _("Left an organization"),
    "membership.role_changed": _("Role changed"),
    "membership.services_changed": _("E-service access changed"),
    "membership.handover": _("Main user role handed over"),
    "membership.main_user_appointed": _("Appointed main user"),
    "invitation.accepted": _("Invitation accepted"),
    "legacy.merged": _("Old usernames merged into this account"),
    "legacy.credentials_discarded": _("Old passwords deleted"),
    "sso.authorized": _("Logged in to an e-service"),
    "sso.refused": _("E-service login refused"),
    "campaign.link_used": _("Email link opened"),
    "2fa.reset": _("Two-factor authentication reset by customer service"),
    "user.privileges_changed": _("Administration rights changed"),
    "user.deactivated": _("Account deactivated"),
    "user.reactivated": _("Account reactivated"),
    "required_action.cleared": _("Action withdrawn"),
}


@register.filter
def event_label(action: str) -> str:
    """A readable, translated name for an audit action code."""
    label = EVENT_LABELS.get(action)
    if label is not None:
        return str(label)
    return action.replace("_", " ").replace(".", ": ")


@register.simple_tag
def portal_url() -> str:
    """The portal's address for the end of an email: SITE_URL, never the request's host."""
    from django.conf import settings

    return settings.SITE_URL.rstrip("/") + "/"
