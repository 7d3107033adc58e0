"""The one exception type for business-rule violations.

Services raise ``ApplicationError(message, code=...)``; views turn it into a form error or a
message, the API into a 400 with the stable ``code``. Messages are translatable constants that
tests reuse.
"""

from __future__ import annotations

from typing import Any


class ApplicationError(Exception):
    def __init__(self, message: Any, *, code: str = "invalid", extra: dict | None = None):
        super().__init__(str(message))
        self.message = message
        self.code = code
        self.extra = extra or {}

    def __str__(self) -> str:
        return str(self.message)
