"""`python manage.py heartbeat_check scheduler|worker`: exit 0 when that part has been heard
from within its stale limit, 1 otherwise (the container health checks, docs/deploy.md)."""

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from config.worker_health import heartbeat_age


class Command(BaseCommand):
    help = "Exit 1 unless the scheduler or a worker has been heard from recently."

    def add_arguments(self, parser):
        parser.add_argument("part", choices=["scheduler", "worker"])

    def handle(self, *args, part, **options):
        limit = (
            settings.HEALTH_SCHEDULER_STALE_SECONDS
            if part == "scheduler"
            else settings.HEALTH_WORKER_STALE_SECONDS
        )
        age = heartbeat_age(part)
        if age is None:
            raise CommandError(f"the {part} has never been heard from")
        if age > limit:
            raise CommandError(f"the {part} was last heard from {age:.0f} s ago (limit {limit} s)")
        self.stdout.write(f"{part}: heard from {age:.0f} s ago")
