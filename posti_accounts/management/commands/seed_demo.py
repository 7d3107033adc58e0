import importlib
import os

from django.core.management.base import BaseCommand
from django.db import transaction

# Each app that has demo data provides `<app>.demo.seed(*, stdout)`; order matters
# (organizations need people, migration needs e-services).
DEMO_MODULES = ["posti_accounts.demo", "organizations.demo", "migration.demo", "notifications.demo"]


class Command(BaseCommand):
    help = "Load demo data (idempotent) and print the demo logins."

    def handle(self, *args, **options):
        self.stdout.write("Demo logins (email, password):")
        for name in DEMO_MODULES:
            try:
                module = importlib.import_module(name)
            except ModuleNotFoundError as exc:
                if exc.name != name:
                    raise
                continue
            with transaction.atomic():
                module.seed(stdout=self.stdout)
        port = os.environ.get("PORT", "8000")
        self.stdout.write(self.style.SUCCESS(f"Demo data is loaded. Open http://127.0.0.1:{port}/"))
