"""Run the campaign dispatcher once: start due scheduled campaigns and kick senders.

Celery beat runs it every CAMPAIGN_DISPATCH_INTERVAL seconds in production; use this in
development (no broker: it sends in-process) or to nudge a campaign by hand.
"""

from django.core.management.base import BaseCommand

from notifications.services import campaigns_dispatch_run


class Command(BaseCommand):
    help = "Start due scheduled campaigns and make sure sending campaigns have senders."

    def handle(self, *args, **options):
        result = campaigns_dispatch_run()
        self.stdout.write(f"started {result['started']}, kicked {result['kicked']}")
