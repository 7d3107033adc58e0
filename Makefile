# Tunnustenhallinta — `make run` serves the portal, `make test` runs the suite.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
PORT ?= 8000
PYTEST_WORKERS ?= 2

.PHONY: setup run test lint format worker scheduler beat bench loadtest messages migrate seed clean

setup: $(VENV)/.installed

$(VENV)/.installed: requirements.lock
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -r requirements.lock
	touch $@

migrate: setup
	$(BIN)/python manage.py migrate --noinput

seed: migrate
	$(BIN)/python manage.py seed_demo

run: seed
	PORT=$(PORT) $(BIN)/python manage.py runserver 127.0.0.1:$(PORT)

test: setup
	$(BIN)/python -m pytest -n $(PYTEST_WORKERS) --dist loadgroup --cov --cov-report=term:skip-covered $(PYTEST_ARGS)

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy kernel */services.py */selectors.py */services/ organizations/rollout_selectors.py

format: setup
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

# The background parts, with the commands production runs (Dockerfile, compose.yaml,
# docs/deploy.md): `worker` is a Celery worker (needs REDIS_URL; run as many as you like, on any
# machine), `scheduler` is Celery beat, the one periodic dispatcher: run exactly one. `beat` is
# the old name of `scheduler`. Development settings unless DJANGO_SETTINGS_MODULE says
# otherwise (the Celery app itself defaults to production).
worker: setup
	DJANGO_SETTINGS_MODULE=$${DJANGO_SETTINGS_MODULE:-config.settings.local} $(BIN)/celery -A config worker --loglevel=INFO --concurrency=$${CONCURRENCY:-2}

scheduler: setup
	DJANGO_SETTINGS_MODULE=$${DJANGO_SETTINGS_MODULE:-config.settings.local} $(BIN)/celery -A config beat --loglevel=INFO --schedule=$${CELERY_BEAT_SCHEDULE_FILE:-var/celerybeat-schedule}

beat: scheduler

bench: setup
	$(BIN)/python benchmarks/run.py $(BENCH_ARGS)

# gunicorn + PostgreSQL + Redis under locust (loadtest/run.py). LOADTEST_SECONDS=60 by default;
# needs PostgreSQL and Redis (LOADTEST_DATABASE_URL, LOADTEST_REDIS_URL).
loadtest: setup
	$(BIN)/python loadtest/run.py

# Regenerate and compile the translation catalogs (needs GNU gettext; the compiled .mo files
# are committed so a fresh machine needs nothing extra).
messages: setup
	$(BIN)/python manage.py makemessages --all --no-obsolete --ignore=.venv --ignore=tests --ignore=benchmarks
	$(BIN)/python manage.py compilemessages --ignore=.venv

clean:
	rm -rf $(VENV) db.sqlite3 staticfiles .pytest_cache .ruff_cache .coverage
