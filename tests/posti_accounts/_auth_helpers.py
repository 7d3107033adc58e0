"""Helpers for the auth tests.

Emails are enqueued with `transaction.on_commit`; pytest-django wraps each test in a
transaction that never commits, so `committing_client` runs each request's on-commit
callbacks when the request ends, as a real request's commit would.
"""

from __future__ import annotations

import re

from django.test import Client


class CommittingClient(Client):
    capture = None

    def request(self, **request):
        with self.capture(execute=True):
            return super().request(**request)


def committing_client(capture, **defaults) -> CommittingClient:
    c = CommittingClient(**defaults)
    c.capture = capture
    return c


_CSRF_RE = re.compile(rb'name="csrfmiddlewaretoken" value="[^"]*"')


def without_csrf(content: bytes) -> bytes:
    return _CSRF_RE.sub(b"", content)


def link_in(message) -> str:
    match = re.search(r"https?://\S+", message.body)
    assert match, message.body
    return re.sub(r"^https?://[^/]+", "", match.group(0))
