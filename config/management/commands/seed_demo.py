import os

from django.core.management.base import BaseCommand
from django.db import transaction

from migration import demo as migration_demo
from organizations import demo as organizations_demo
from posti_accounts import demo as accounts_demo

# Order matters: organizations need people, migration needs e-services.
DEMO_MODULES = [accounts_demo, organizations_demo, migration_demo]


class Command(BaseCommand):
    help = "Load demo data (idempotent) and print the demo logins."

    def handle(self, *args, **options):
        self.stdout.write("Demo logins (email, password):")
        for module in DEMO_MODULES:
            with transaction.atomic():
                module.seed(stdout=self.stdout)
        port = os.environ.get("PORT", "8000")
        self.stdout.write(self.style.SUCCESS(f"Demo data is loaded. Open http://127.0.0.1:{port}/"))
