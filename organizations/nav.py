"""Tabs the apps above add to an organization's sub-navigation (the main-user pages).

`organizations` cannot import the apps above it (migration, notifications, ...), yet some of
their pages belong among the organization's: such an app registers a tab here from its
`AppConfig.ready`, and `organizations/_nav.html` shows the registered tabs whose `visible`
check passes for the organization being viewed."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.urls import reverse

from .models import Organization


@dataclass(frozen=True)
class NavTab:
    name: str
    label: Any  # a lazy translation
    url_name: str  # reversed with the organization's id as `organization_id`
    visible: Callable[[Organization], bool] | None = None


_TABS: dict[str, NavTab] = {}


def organization_nav_tab_register(
    *,
    name: str,
    label: Any,
    url_name: str,
    visible: Callable[[Organization], bool] | None = None,
) -> None:
    """Add (or replace, by `name`) a tab; `visible(organization)` may hide it."""
    _TABS[name] = NavTab(name=name, label=label, url_name=url_name, visible=visible)


def organization_nav_tabs(*, organization: Organization) -> list[tuple[Any, str]]:
    """(label, url) of the registered tabs shown for `organization`, in registration order."""
    return [
        (tab.label, reverse(tab.url_name, kwargs={"organization_id": organization.pk}))
        for tab in _TABS.values()
        if tab.visible is None or tab.visible(organization)
    ]
