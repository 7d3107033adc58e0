"""python manage.py retire_legacy_credentials --service CODE"""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from kernel.errors import ApplicationError
from migration.services import legacy_credentials_retire


class Command(BaseCommand):
    help = "Cut-over: the old usernames and passwords of one e-service stop working."

    def add_arguments(self, parser):
        parser.add_argument("--service", required=True)

    def handle(self, *args, **options):
        try:
            count = legacy_credentials_retire(service_code=options["service"])
        except ApplicationError as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(f"Retired {count} legacy accounts of service {options['service']}.")
