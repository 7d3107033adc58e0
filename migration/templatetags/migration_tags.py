from django import template

from migration.selectors import legacy_accounts_for_user

register = template.Library()


@register.simple_tag
def merged_legacy_accounts(user):
    """The legacy usernames merged into `user` (one query)."""
    return legacy_accounts_for_user(user=user)
