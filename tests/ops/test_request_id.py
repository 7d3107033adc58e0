"""Request ids and structured logs (issue 15): every log line of a request carries its id,
the response returns it, and Celery tasks the request enqueues carry the same id."""

from __future__ import annotations

import io
import json
import logging
from logging.config import DictConfigurator

import pytest
from django.http import HttpResponse
from django.test import RequestFactory

from config import request_id
from config.celery import app as celery_app
from config.logging_config import logging_config

pytestmark = pytest.mark.django_db


def _handler(*, json_lines: bool) -> tuple[logging.Handler, io.StringIO]:
    """A handler built from the real LOGGING dict (formatter and filters), writing to a buffer."""
    config = DictConfigurator(logging_config(json_lines=json_lines, level="INFO"))
    handler_conf = config.config["handlers"]["console"]
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(
        config.configure_formatter(config.config["formatters"][handler_conf["formatter"]])
    )
    for name in handler_conf["filters"]:
        handler.addFilter(config.configure_filter(config.config["filters"][name]))
    return handler, stream


def _run_request(headers: dict, log_message: str, *, json_lines: bool = True):
    handler, stream = _handler(json_lines=json_lines)
    logger = logging.getLogger("tests.request_id")
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    try:

        def view(request):
            logger.info(log_message)
            return HttpResponse("ok")

        middleware = request_id.RequestIdMiddleware(view)
        response = middleware(RequestFactory().get("/", **headers))
        logger.info("after the request")
    finally:
        logger.removeHandler(handler)
    return response, stream.getvalue().splitlines()


def test_generated_id_is_returned_and_on_every_json_line():
    response, lines = _run_request({}, "inside the request")
    rid = response["X-Request-ID"]
    assert len(rid) == 32 and rid.isalnum()
    inside, after = (json.loads(line) for line in lines)
    assert inside["message"] == "inside the request"
    assert inside["request_id"] == rid
    assert inside["levelname"] == "INFO" and inside["name"] == "tests.request_id"
    assert after["request_id"] == "-"  # outside any request


def test_sane_incoming_id_is_kept():
    response, lines = _run_request({"HTTP_X_REQUEST_ID": "lb-7f3a9c2e-11.eu"}, "hello")
    assert response["X-Request-ID"] == "lb-7f3a9c2e-11.eu"
    assert json.loads(lines[0])["request_id"] == "lb-7f3a9c2e-11.eu"


@pytest.mark.parametrize("bad", ["has space", "x" * 201, "new\nline", "<script>", ""])
def test_insane_incoming_id_is_replaced(bad):
    response, lines = _run_request({"HTTP_X_REQUEST_ID": bad}, "hello")
    rid = response["X-Request-ID"]
    assert rid != bad and len(rid) == 32
    assert json.loads(lines[0])["request_id"] == rid


def test_redaction_still_applies_to_json_lines():
    _response, lines = _run_request({}, "login with password=hunter2-secret-value")
    assert "hunter2" not in lines[0]
    assert "password=" in json.loads(lines[0])["message"]


def test_development_lines_are_readable_with_the_id():
    response, lines = _run_request({}, "plain line", json_lines=False)
    assert response["X-Request-ID"] in lines[0] and "plain line" in lines[0]
    with pytest.raises(json.JSONDecodeError):
        json.loads(lines[0])


def test_the_id_goes_with_the_tasks_a_request_publishes():
    """before_task_publish writes the id into the message headers; task_prerun sets it in the
    worker for the task's log lines, and task_postrun restores what was there."""
    headers: dict = {}
    token = request_id.request_id_var.set("req-abc-123")
    try:
        request_id.task_publish_add_id(headers=headers)
    finally:
        request_id.request_id_var.reset(token)
    assert headers[request_id.TASK_HEADER] == "req-abc-123"

    @celery_app.task(name="tests.ops.request_id_probe")
    def probe():
        return request_id.request_id_get()

    probe.push_request(**{request_id.TASK_HEADER: "req-abc-123"})
    try:
        request_id.task_prerun_set_id(task=probe)
        assert request_id.request_id_get() == "req-abc-123"
        request_id.task_postrun_reset_id(task=probe)
        assert request_id.request_id_get() == "-"
    finally:
        probe.pop_request()


def test_eager_task_inside_a_request_logs_the_request_id():
    """Without a broker (development, tests) tasks run in the request: same id."""
    seen = []

    @celery_app.task(name="tests.ops.request_id_eager_probe")
    def probe():
        seen.append(request_id.request_id_get())

    def view(request):
        probe.delay()
        return HttpResponse("ok")

    response = request_id.RequestIdMiddleware(view)(RequestFactory().get("/"))
    assert seen == [response["X-Request-ID"]]


def test_publishing_outside_a_request_adds_no_header():
    headers: dict = {}
    request_id.task_publish_add_id(headers=headers)
    assert request_id.TASK_HEADER not in headers


def test_settings_wire_the_middleware_logging_and_signals(client):
    from celery.signals import before_task_publish
    from django.conf import settings

    assert settings.MIDDLEWARE[0] == "config.request_id.RequestIdMiddleware"
    assert "request_id" in settings.LOGGING["handlers"]["console"]["filters"]
    assert "redact" in settings.LOGGING["handlers"]["console"]["filters"]
    assert settings.CELERY_WORKER_HIJACK_ROOT_LOGGER is False  # workers keep LOGGING
    response = client.get("/accounts/login/", HTTP_X_REQUEST_ID="from-the-lb-1")
    assert response["X-Request-ID"] == "from-the-lb-1"

    headers: dict = {}
    token = request_id.request_id_var.set("req-signal-1")
    try:
        before_task_publish.send(sender="probe", headers=headers, body=None, properties={})
    finally:
        request_id.request_id_var.reset(token)
    assert headers == {request_id.TASK_HEADER: "req-signal-1"}


@pytest.mark.redis
def test_a_real_worker_runs_the_task_under_the_request_id():
    """Through Redis and a worker: the header goes over the broker and back."""
    import os
    import time

    from celery.contrib.testing.worker import start_worker

    seen: list[str] = []

    @celery_app.task(name="tests.ops.request_id_worker_probe")
    def probe():
        seen.append(request_id.request_id_get())

    saved = (celery_app.conf.task_always_eager, celery_app.conf.broker_url)
    celery_app.conf.task_always_eager = False
    celery_app.conf.broker_url = os.environ["REDIS_URL"]
    try:
        with start_worker(
            celery_app, pool="solo", perform_ping_check=False, queues=["ops-request-id-test"]
        ):
            token = request_id.request_id_var.set("rid-through-the-broker")
            # An explicit connection: an earlier test may have made the app's producer pool
            # for the in-memory broker of the test settings.
            try:
                with celery_app.connection_for_write(os.environ["REDIS_URL"]) as connection:
                    probe.apply_async(queue="ops-request-id-test", connection=connection)
            finally:
                request_id.request_id_var.reset(token)
            for _ in range(300):
                if seen:
                    break
                time.sleep(0.1)
    finally:
        celery_app.conf.task_always_eager, celery_app.conf.broker_url = saved
    assert seen == ["rid-through-the-broker"]
