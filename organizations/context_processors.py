from __future__ import annotations

from django.utils.functional import SimpleLazyObject

CURRENT_ORGANIZATION_SESSION_KEY = "organizations.current"


class _Switcher:
    """Organizations the user can switch between; queried (once) only when rendered."""

    def __init__(self, request):
        from .selectors import organizations_switcher_choices

        self.choices = organizations_switcher_choices(user=request.user)
        current = request.session.get(CURRENT_ORGANIZATION_SESSION_KEY)
        ids = [org_id for org_id, _name in self.choices]
        self.current = current if current in ids else (ids[0] if ids else None)


def organizations(request):
    """Header org switcher: nothing for anonymous users, one query when rendered."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    return {"org_switcher": SimpleLazyObject(lambda: _Switcher(request))}
