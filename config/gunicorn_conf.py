"""gunicorn settings for production (`gunicorn -c config/gunicorn_conf.py config.wsgi`).

WEB_CONCURRENCY worker processes (default: 2 per core), PORT (8000). With several workers,
Prometheus counters are summed across them through PROMETHEUS_MULTIPROC_DIR: emptied when the
server starts, and a dead worker's live gauges are dropped.
"""

import multiprocessing
import os
import shutil

bind = f"0.0.0.0:{os.environ.get('PORT', '8000')}"
workers = int(os.environ.get("WEB_CONCURRENCY") or 2 * multiprocessing.cpu_count())
# Sync workers: each request holds one process; a login's hash (~20 ms) needs no threads.
worker_class = "sync"
timeout = int(os.environ.get("WEB_TIMEOUT", "30"))
graceful_timeout = 30
# Recycle workers now and then (memory), at different times.
max_requests = 5000
max_requests_jitter = 500
accesslog = None  # the load balancer logs requests; the app logs with request ids
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1")


def on_starting(server):
    path = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if path:
        shutil.rmtree(path, ignore_errors=True)
        os.makedirs(path, exist_ok=True)


def child_exit(server, worker):
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(worker.pid)
