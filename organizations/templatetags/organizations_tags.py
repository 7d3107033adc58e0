from django import template
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from organizations.models import Membership
from organizations.nav import organization_nav_tabs
from organizations.selectors import memberships_for_user

register = template.Library()

# What happened, as a sentence: %(actor)s did it, %(person)s is the member concerned,
# %(email)s the invited address.
AUDIT_SENTENCES = {
    "organization.created": gettext_lazy("%(actor)s created the organization."),
    "membership.added": gettext_lazy("%(actor)s added %(person)s to the organization."),
    "membership.activated": gettext_lazy("The membership of %(person)s became active."),
    "membership.role_changed": gettext_lazy("%(actor)s changed the role of %(person)s."),
    "membership.handover": gettext_lazy("%(actor)s made %(person)s a main user."),
    "membership.main_user_appointed": gettext_lazy(
        "%(actor)s appointed %(person)s as a main user."
    ),
    "membership.services_changed": gettext_lazy(
        "%(actor)s changed the e-service access of %(person)s."
    ),
    "membership.removed": gettext_lazy("%(actor)s removed %(person)s from the organization."),
    "membership.left": gettext_lazy("%(person)s left the organization."),
    "invitation.created": gettext_lazy("%(actor)s invited %(email)s."),
    "invitation.resent": gettext_lazy("%(actor)s sent the invitation to %(email)s again."),
    "invitation.revoked": gettext_lazy("%(actor)s cancelled the invitation to %(email)s."),
    "invitation.accepted": gettext_lazy("%(person)s accepted the invitation."),
    "organization.name_chosen": gettext_lazy("%(actor)s chose the organization's name."),
    "rollout.reminders_requested": gettext_lazy(
        "%(actor)s sent a reminder to the members who are not done."
    ),
    "legacy.organization_review_opened": gettext_lazy(
        "The migration asked for a review of the organization."
    ),
    "legacy.organization_review_resolved": gettext_lazy(
        "%(actor)s settled the organization's migration review."
    ),
    "legacy.shared_login_handed_over": gettext_lazy(
        "%(actor)s handed a shared login of the old services to the main users."
    ),
    "legacy.shared_login_resolved": gettext_lazy(
        "%(actor)s invited the real people of a shared login of the old services."
    ),
}


@register.inclusion_tag("organizations/_profile_organizations.html")
def profile_organizations(user):
    """The user's organizations with role and services for Omat tiedot: two queries."""
    return {"memberships": memberships_for_user(user=user)}


@register.simple_tag
def organization_nav_extra(organization):
    """The tabs higher apps registered for the organization's sub-navigation."""
    return organization_nav_tabs(organization=organization)


def _role(code) -> str:
    return str(dict(Membership.Role.choices).get(code, code or ""))


def _services(codes, names: dict[str, str]) -> str:
    return ", ".join(names.get(code, code) for code in codes or ())


@register.simple_tag
def audit_sentence(event) -> str:
    """An organization audit event as a translated sentence (escaped by the template)."""
    details = event.details or {}
    person = event.target_user.display_name if event.target_user else details.get("email", "")
    values = {
        "actor": event.actor.display_name if event.actor else _("Customer service"),
        "person": person or _("a person"),
        "email": details.get("email", ""),
    }
    sentence = AUDIT_SENTENCES.get(event.action)
    if sentence is None:
        from posti_accounts.templatetags.account_tags import event_label

        return event_label(event.action)
    return str(sentence) % values


@register.simple_tag
def audit_details(event, service_names: dict[str, str]) -> str:
    """The facts worth reading (roles, e-service names), never ids or raw dictionaries."""
    details = event.details or {}
    parts = []
    if "from" in details and "to" in details:
        parts.append(
            _("Role: %(old)s → %(new)s")
            % {"old": _role(details["from"]), "new": _role(details["to"])}
        )
    elif "role" in details:
        parts.append(_("Role: %(role)s") % {"role": _role(details["role"])})
    if details.get("services"):
        parts.append(
            _("E-services: %(names)s") % {"names": _services(details["services"], service_names)}
        )
    if details.get("granted"):
        parts.append(
            _("Granted: %(names)s") % {"names": _services(details["granted"], service_names)}
        )
    if details.get("revoked"):
        parts.append(
            _("Revoked: %(names)s") % {"names": _services(details["revoked"], service_names)}
        )
    if event.action == "organization.created" and details.get("business_id"):
        parts.append(_("Business ID: %(id)s") % {"id": details["business_id"]})
    return " · ".join(parts)
