from django import template

from organizations.nav import organization_nav_tabs
from organizations.selectors import memberships_for_user

register = template.Library()


@register.inclusion_tag("organizations/_profile_organizations.html")
def profile_organizations(user):
    """The user's organizations with role and services for Omat tiedot: two queries."""
    return {"memberships": memberships_for_user(user=user)}


@register.simple_tag
def organization_nav_extra(organization):
    """The tabs higher apps registered for the organization's sub-navigation."""
    return organization_nav_tabs(organization=organization)
