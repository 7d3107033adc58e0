# Tunnustenhallinta: one image for the web processes, the Celery workers and the scheduler.
# Build: docker build -t tunnustenhallinta .   Run: see compose.yaml and docs/deploy.md.

# --- Build stage: compilers and headers live only here ------------------------------------
FROM python:3.11-slim AS build
RUN apt-get update \
    && apt-get install -y --no-install-recommends build-essential libpq-dev \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY pyproject.toml requirements.lock ./
# The runtime dependencies from pyproject.toml, at the versions the lock pins (the lock also
# holds the development tools, which stay out of the image).
RUN python -c "import tomllib; print('\n'.join(tomllib.load(open('pyproject.toml', 'rb'))['project']['dependencies']))" > runtime.txt \
    && python -m venv /opt/venv \
    && /opt/venv/bin/pip install --no-cache-dir --disable-pip-version-check -r runtime.txt -c requirements.lock
COPY . .
# Static files (whitenoise serves them, compressed). A throwaway key and database: nothing of
# this command's environment stays in the image.
RUN OIDC_RSA_PRIVATE_KEY="$(/opt/venv/bin/python -c 'from sso.keys import rsa_private_key_generate as g; print(g())')" \
    SECRET_KEY=collectstatic-only ALLOWED_HOSTS=localhost TRUSTED_PROXY_COUNT=0 \
    DATABASE_URL=sqlite:////tmp/collectstatic.sqlite3 DJANGO_SETTINGS_MODULE=config.settings.production \
    /opt/venv/bin/python manage.py collectstatic --noinput --verbosity 0 \
    && rm -f /tmp/collectstatic.sqlite3 runtime.txt \
    && find /app -name '__pycache__' -prune -exec rm -rf {} +

# --- Runtime stage: no compilers, no package manager caches, not root -----------------------
FROM python:3.11-slim AS runtime
RUN apt-get update \
    && apt-get install -y --no-install-recommends libpq5 \
    && rm -rf /var/lib/apt/lists/* \
    && groupadd --system --gid 10001 tunnus \
    && useradd --system --uid 10001 --gid tunnus --home-dir /app --shell /usr/sbin/nologin tunnus
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    DJANGO_SETTINGS_MODULE=config.settings.production \
    PROMETHEUS_MULTIPROC_DIR=/tmp/prometheus \
    LOG_JSON=true
COPY --from=build /opt/venv /opt/venv
# The code belongs to root and is read-only for the service user.
COPY --from=build /app /app
WORKDIR /app
USER tunnus
EXPOSE 8000
# Web by default; the worker and the scheduler run the same image with another command
# (compose.yaml). Migrations run once per release: python manage.py migrate --noinput
CMD ["gunicorn", "-c", "config/gunicorn_conf.py", "config.wsgi"]
