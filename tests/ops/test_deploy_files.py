"""The container files are valid without a container engine (issue 15): compose.yaml starts
web, worker, scheduler, PostgreSQL and Redis with the production commands and health checks;
the Dockerfile builds in a separate stage and runs as a non-root user with no build tools."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent.parent


def _compose() -> dict:
    return yaml.safe_load((ROOT / "compose.yaml").read_text())


def _command(service: dict) -> list[str]:
    command = service["command"]
    return shlex.split(command) if isinstance(command, str) else list(command)


def _stages() -> list[tuple[str, list[str]]]:
    """(FROM line, instructions) per stage, line continuations joined."""
    text = re.sub(r"\\\n", " ", (ROOT / "Dockerfile").read_text())
    stages: list[tuple[str, list[str]]] = []
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        if line.upper().startswith("FROM "):
            stages.append((line, []))
        else:
            assert stages, f"instruction before FROM: {line}"
            stages[-1][1].append(line)
    return stages


def test_compose_has_every_part_with_commands_and_health_checks():
    services = _compose()["services"]
    assert {"web", "worker", "scheduler", "db", "redis", "migrate"} <= set(services)
    assert _command(services["web"])[0] == "gunicorn"
    assert "config.wsgi" in _command(services["web"])
    assert _command(services["worker"])[:4] == ["celery", "-A", "config", "worker"]
    assert _command(services["scheduler"])[:4] == ["celery", "-A", "config", "beat"]
    assert _command(services["migrate"])[:3] == ["python", "manage.py", "migrate"]
    for name in ("web", "worker", "scheduler", "db", "redis"):
        check = services[name].get("healthcheck") or {}
        assert check.get("test") and not check.get("disable"), f"{name} has no health check"
    # Exactly one scheduler.
    assert services["scheduler"].get("deploy", {}).get("replicas", 1) == 1


def test_compose_app_services_wait_for_their_dependencies_and_use_production_settings():
    services = _compose()["services"]
    for name in ("web", "worker", "scheduler"):
        depends = services[name]["depends_on"]
        assert depends["db"]["condition"] == "service_healthy"
        assert depends["redis"]["condition"] == "service_healthy"
        assert depends["migrate"]["condition"] == "service_completed_successfully"
        env = services[name]["environment"]
        assert env["DJANGO_SETTINGS_MODULE"] == "config.settings.production"
        assert env["DATABASE_URL"].startswith("postgres://")
        assert env["REDIS_URL"].startswith("redis://")


def test_compose_environment_keys_are_documented():
    documented = {
        line.split("=", 1)[0]
        for line in (ROOT / ".env.example").read_text().splitlines()
        if line and not line.startswith("#") and "=" in line
    }
    extra = {"DJANGO_SETTINGS_MODULE", "WEB_CONCURRENCY"}
    for name in ("web", "worker", "scheduler"):
        keys = set(_compose()["services"][name]["environment"])
        assert sorted(keys - documented - extra) == [], name


def test_dockerfile_builds_separately_and_runs_as_non_root():
    stages = _stages()
    assert len(stages) >= 2, "needs a separate build stage"
    final_from, final = stages[-1]
    build_names = {re.split(r"\s+AS\s+", f, flags=re.I)[-1] for f, _ in stages[:-1]}
    assert any(
        i.upper().startswith("COPY --FROM=") and i.split()[1].split("=")[1] in build_names
        for i in final
    ), "the final stage copies its build from the build stage"
    users = [i.split(None, 1)[1].strip() for i in final if i.upper().startswith("USER ")]
    assert users and users[-1] not in {"root", "0", "0:0"}, "must run as a non-root user"
    final_text = " ".join(final)
    for tool in ("build-essential", "gcc", "libpq-dev", "pip install"):
        assert tool not in final_text, f"{tool} in the final image"
    assert "build-essential" in " ".join(" ".join(i) for _f, i in stages[:-1])
    cmd = next(i for i in reversed(final) if i.upper().startswith("CMD "))
    assert "gunicorn" in cmd


def test_dockerignore_keeps_secrets_and_local_state_out():
    ignored = set((ROOT / ".dockerignore").read_text().split())
    for entry in (".git", ".venv", ".env", "*.pem", "var/", "db.sqlite3", "staticfiles/"):
        assert entry in ignored, entry


def test_make_worker_and_scheduler_run_the_production_commands():
    makefile = (ROOT / "Makefile").read_text()
    assert re.search(r"^worker:.*\n\t.*celery -A config worker", makefile, re.M)
    assert re.search(r"^scheduler:.*\n\t.*celery -A config beat", makefile, re.M)
    assert re.search(r"^beat: scheduler$", makefile, re.M)


def test_gunicorn_config_empties_the_metrics_directory(tmp_path, monkeypatch):
    import runpy

    metrics_dir = tmp_path / "prometheus"
    metrics_dir.mkdir()
    (metrics_dir / "counter_123.db").write_text("stale")
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(metrics_dir))
    monkeypatch.setenv("WEB_CONCURRENCY", "3")
    conf = runpy.run_path(str(ROOT / "config" / "gunicorn_conf.py"))
    assert conf["workers"] == 3 and conf["bind"] == "0.0.0.0:8000"
    conf["on_starting"](None)
    assert metrics_dir.is_dir() and list(metrics_dir.iterdir()) == []
