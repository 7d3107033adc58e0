"""WSGI entry point. Defaults to production settings, which refuse to start without their
required environment; only `manage.py` defaults to development settings."""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.production")
application = get_wsgi_application()
