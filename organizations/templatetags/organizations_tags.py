from django import template

from organizations.selectors import memberships_for_user

register = template.Library()


@register.inclusion_tag("organizations/_profile_organizations.html")
def profile_organizations(user):
    """The user's organizations with role and services for Omat tiedot: two queries."""
    return {"memberships": memberships_for_user(user=user)}
