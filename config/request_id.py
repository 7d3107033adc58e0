"""A request id on every log line and on the Celery tasks a request enqueues.

The id is the incoming X-Request-ID when it looks like one (a load balancer's or proxy's:
1-128 characters of letters, digits and `-_.:`), else a new random one; the response returns
it in X-Request-ID. Tasks carry it in a message header (`before_task_publish`) and the worker
sets it while the task runs (`task_prerun` / `task_postrun`), so a task's log lines carry the
id of the request that queued it. Eager tasks (development, tests) run inside the request and
so carry its id already. No models here: the log filter is loaded with the settings.
"""

from __future__ import annotations

import contextvars
import logging
import re
import uuid

HEADER = "X-Request-ID"
TASK_HEADER = "portal_request_id"
NONE = "-"
_SANE = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")

request_id_var: contextvars.ContextVar[str] = contextvars.ContextVar("request_id", default=NONE)


def request_id_get() -> str:
    return request_id_var.get()


def request_id_from(value: str | None) -> str:
    if value and _SANE.match(value):
        return value
    return uuid.uuid4().hex


class RequestIdMiddleware:
    """First in MIDDLEWARE, so every line logged while the request is served has the id."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        rid = request_id_from(request.META.get("HTTP_X_REQUEST_ID"))
        request.request_id = rid
        token = request_id_var.set(rid)
        try:
            response = self.get_response(request)
        finally:
            request_id_var.reset(token)
        response[HEADER] = rid
        return response


class RequestIdLogFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        if not hasattr(record, "request_id"):
            record.request_id = request_id_var.get()
        return True


# --- Celery ---------------------------------------------------------------------------------
def task_publish_add_id(headers=None, **kwargs) -> None:
    rid = request_id_var.get()
    if rid != NONE and headers is not None:
        headers[TASK_HEADER] = rid


def task_prerun_set_id(task=None, **kwargs) -> None:
    rid = getattr(task.request, TASK_HEADER, None) if task is not None else None
    if rid and _SANE.match(str(rid)):
        task.request._request_id_token = request_id_var.set(str(rid))


def task_postrun_reset_id(task=None, **kwargs) -> None:
    token = getattr(task.request, "_request_id_token", None) if task is not None else None
    if token is not None:
        request_id_var.reset(token)
        task.request._request_id_token = None


def celery_signals_connect() -> None:
    from celery.signals import before_task_publish, task_postrun, task_prerun

    before_task_publish.connect(task_publish_add_id, weak=False, dispatch_uid="request_id_pub")
    task_prerun.connect(task_prerun_set_id, weak=False, dispatch_uid="request_id_prerun")
    task_postrun.connect(task_postrun_reset_id, weak=False, dispatch_uid="request_id_postrun")
