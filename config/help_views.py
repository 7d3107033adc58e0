from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.translation import get_language
from django.views.decorators.http import require_GET

from .help import help_entries_published


@require_GET
def help_page(request: HttpRequest) -> HttpResponse:
    """The rollout's common questions, in the visitor's language (open to everyone)."""
    language = get_language() or "fi"
    entries = [
        (n, *entry.text(language)) for n, entry in enumerate(help_entries_published(), start=1)
    ]
    return render(request, "project/help.html", {"entries": entries})
