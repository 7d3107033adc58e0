""" "Start now" goes one way: the admin's service enqueues one task after commit, the task
calls one orchestration service, and that service enqueues the senders after its commits.
No task calls another task."""

import ast
from pathlib import Path

import pytest

from notifications import services, tasks
from notifications.models import Campaign, Delivery

pytestmark = pytest.mark.django_db

TASKS = Path(tasks.__file__)


def _task_functions():
    tree = ast.parse(TASKS.read_text())
    for node in tree.body:
        if isinstance(node, ast.FunctionDef) and any(
            "shared_task" in ast.unparse(d) for d in node.decorator_list
        ):
            yield node


def test_every_task_calls_exactly_one_service():
    found = list(_task_functions())
    assert {f.name for f in found} == {"campaign_send", "campaign_start_task", "campaigns_dispatch"}
    for func in found:
        body = [
            node
            for node in func.body
            if not (isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant))
        ]  # the docstring aside
        assert len(body) == 1, func.name
        call = body[0].value
        assert isinstance(call, ast.Call), func.name
        assert ast.unparse(call.func).startswith("services."), func.name


def test_no_task_enqueues_a_task():
    source = TASKS.read_text()
    for forbidden in ("apply_async", ".delay(", "task_enqueue", "send_task"):
        assert forbidden not in source


@pytest.fixture
def queued(settings, monkeypatch):
    """Tasks are recorded by name instead of run (as with a broker)."""
    settings.CELERY_TASK_ALWAYS_EAGER = False
    sent: list[tuple] = []

    def enqueue(name, *args, queue=None):
        sent.append((name, *args))

    monkeypatch.setattr("posti_accounts.queue.task_enqueue", enqueue)
    monkeypatch.setattr("notifications.services.task_enqueue", enqueue)
    return sent


def test_start_now_path_is_one_way(
    make_user, make_campaign, staff, queued, django_capture_on_commit_callbacks
):
    make_user()
    campaign = make_campaign(kind=Campaign.Kind.CHECK_DETAILS)
    with django_capture_on_commit_callbacks(execute=True):
        services.campaign_start_request(campaign=campaign, actor=staff)
    # 1. the service enqueued exactly one task, after commit
    assert queued == [(services.CAMPAIGN_START_TASK, campaign.pk, staff.pk)]
    assert not Delivery.objects.exists()
    queued.clear()
    # 2. the worker runs it: it calls one service, which adds the recipients and enqueues
    #    the senders only after its batches commit
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        tasks.campaign_start_task(campaign.pk, staff.pk)
    assert Delivery.objects.filter(campaign=campaign).count() == 2
    assert queued == []
    for callback in callbacks:
        callback()
    assert {entry[0] for entry in queued} == {services.CAMPAIGN_SEND_TASK}


def test_sender_continues_through_the_service(make_user, make_campaign, staff, queued, settings):
    settings.CAMPAIGN_BATCH_SIZE = 1
    settings.CAMPAIGN_TASK_MAX_SECONDS = 0
    make_user()
    campaign = make_campaign()
    services.campaign_start(campaign=campaign, actor=staff)
    assert services.campaign_send_run(campaign_id=campaign.pk, slot=1) == "budget"
    assert queued == [(services.CAMPAIGN_SEND_TASK, campaign.pk, 1)]
