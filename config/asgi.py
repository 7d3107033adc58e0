"""ASGI entry point. Defaults to production settings, which refuse to start without their
required environment; only `manage.py` defaults to development settings."""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.production")
application = get_asgi_application()
