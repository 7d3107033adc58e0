# Tunnustenhallinta — `make run` serves the portal, `make test` runs the suite.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
PORT ?= 8000
PYTEST_WORKERS ?= 2

.PHONY: setup run test lint format worker beat bench messages migrate seed clean

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

format: setup
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

# A Celery worker (needs REDIS_URL). Beat runs the one periodic dispatcher; run exactly one.
# Development settings unless DJANGO_SETTINGS_MODULE says otherwise (the Celery app itself
# defaults to production).
worker: setup
	DJANGO_SETTINGS_MODULE=$${DJANGO_SETTINGS_MODULE:-config.settings.local} $(BIN)/celery -A config worker --loglevel=INFO --concurrency=$${CONCURRENCY:-2}

beat: setup
	DJANGO_SETTINGS_MODULE=$${DJANGO_SETTINGS_MODULE:-config.settings.local} $(BIN)/celery -A config beat --loglevel=INFO

bench: setup
	$(BIN)/python benchmarks/run.py $(BENCH_ARGS)

# Regenerate and compile the translation catalogs (needs GNU gettext; the compiled .mo files
# are committed so a fresh machine needs nothing extra).
messages: setup
	$(BIN)/python manage.py makemessages --all --no-obsolete --ignore=.venv --ignore=tests --ignore=benchmarks
	$(BIN)/python manage.py compilemessages --ignore=.venv

clean:
	rm -rf $(VENV) db.sqlite3 staticfiles .pytest_cache .ruff_cache .coverage
