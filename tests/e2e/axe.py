"""axe-core in a Playwright page: the accessibility check every journey runs on every page.

axe-core's script comes from the axe-playwright-python package (it ships axe.min.js), so no
download is needed. It is evaluated in the page by Playwright (DevTools protocol), which the
site's Content-Security-Policy does not restrict.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from pathlib import Path

import axe_playwright_python

# The impacts that fail a page; "minor" and "moderate" are reported but do not fail.
FAILING_IMPACTS = ("serious", "critical")


@cache
def axe_script() -> str:
    return (Path(axe_playwright_python.__file__).parent / "axe.min.js").read_text(encoding="utf-8")


@dataclass(frozen=True)
class Violation:
    id: str
    impact: str
    help: str
    targets: tuple[str, ...]

    def __str__(self) -> str:
        shown = ", ".join(self.targets[:5]) + (" …" if len(self.targets) > 5 else "")
        return f"{self.id} ({self.impact}): {self.help} — {shown}"


def axe_violations(page) -> list[Violation]:
    """All axe-core violations on the page as it is now (every rule axe runs by default)."""
    if not page.evaluate("typeof window.axe !== 'undefined'"):
        page.evaluate(axe_script())
    response = page.evaluate(
        "axe.run(document, {resultTypes: ['violations']}).then(r => r.violations)"
    )
    return [
        Violation(
            id=v["id"],
            impact=v.get("impact") or "minor",
            help=v["help"],
            targets=tuple(" ".join(map(str, node["target"])) for node in v["nodes"]),
        )
        for v in response
    ]


def axe_failing(page) -> list[Violation]:
    """The serious and critical violations: a page must have none."""
    return [v for v in axe_violations(page) if v.impact in FAILING_IMPACTS]
