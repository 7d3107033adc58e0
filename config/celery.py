"""Celery application. Without REDIS_URL the settings make tasks run eagerly in-process.

Workers and beat default to production settings, which refuse to start without their required
environment; `make worker` and `make beat` name the development settings unless
DJANGO_SETTINGS_MODULE is set."""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.production")

app = Celery("tunnustenhallinta")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()

# The request id travels with the tasks a request enqueues (config/request_id.py).
# Heartbeats of the scheduler and the workers for the admin (config/worker_health.py).
from .request_id import celery_signals_connect  # noqa: E402
from .worker_health import celery_signals_connect as health_signals_connect  # noqa: E402

celery_signals_connect()
health_signals_connect()
