"""The staff rollout dashboard page (an admin page: staff, 2FA, the admin's look)."""

from __future__ import annotations

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.utils.formats import date_format
from django.utils.translation import gettext as _

from posti_accounts.queue import task_enqueue_on_commit

from . import charts
from .dashboard import (
    LEGACY_FIGURES,
    PHASE_FIGURES,
    PHASES,
    TODAY_ACTIONS,
    USER_FIGURES,
    rollout_dashboard,
)

SNAPSHOT_TASK = "config.tasks.rollout_snapshot_take"
PERMISSION = "project.view_rolloutsnapshot"


def rollout_dashboard_view(request: HttpRequest) -> HttpResponse:
    if not request.user.has_perm(PERMISSION):
        raise PermissionDenied
    if request.method == "POST":
        task_enqueue_on_commit(SNAPSHOT_TASK)
        messages.success(request, _("The figures are being counted again; reload in a moment."))
        return redirect("rollout_dashboard")
    board = rollout_dashboard()
    labels = [date_format(day, "SHORT_DATE_FORMAT") for day in board.days]
    progress_keys = ["details_confirmed", "email_verified", "password_renewed"]
    legacy_keys = list(LEGACY_FIGURES)
    phases = [
        {
            "name": name,
            "figures": [(PHASE_FIGURES[key], value) for key, value in board.phase(kind).items()],
        }
        for kind, name in PHASES.items()
    ]
    for phase in phases:
        phase["chart"] = charts.bar_chart(title=phase["name"], bars=phase["figures"])
    context = {
        **admin.site.each_context(request),
        "title": _("Rollout dashboard"),
        "board": board,
        "users": [(USER_FIGURES[key], board.figure(key)) for key in USER_FIGURES],
        "legacy": [(LEGACY_FIGURES[key], board.figure(key)) for key in LEGACY_FIGURES],
        "today": [(TODAY_ACTIONS[key], value) for key, value in board.today.items()],
        "phases": phases,
        "history_rows": [
            (label, *(board.history[key][n] for key in progress_keys + legacy_keys))
            for n, label in enumerate(labels)
        ][::-1],
        "history_heads": [USER_FIGURES[k] for k in progress_keys]
        + [LEGACY_FIGURES[k] for k in legacy_keys],
        "users_chart": charts.line_chart(
            title=_("Users over time"),
            labels=labels,
            series=[(USER_FIGURES[k], board.history[k]) for k in progress_keys],
        ),
        "users_bars": charts.bar_chart(
            title=_("Users now"), bars=[(USER_FIGURES[k], board.figure(k)) for k in USER_FIGURES]
        ),
        "legacy_chart": charts.line_chart(
            title=_("Legacy accounts over time"),
            labels=labels,
            series=[(LEGACY_FIGURES[k], board.history[k]) for k in legacy_keys[:4]],
        ),
    }
    return TemplateResponse(request, "project/dashboard.html", context)
