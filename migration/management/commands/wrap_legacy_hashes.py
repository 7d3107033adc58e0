"""python manage.py wrap_legacy_hashes: (re)start the resumable hash-wrapping job."""

from __future__ import annotations

from django.core.management.base import BaseCommand

from migration.services import legacy_hashes_pending_count
from migration.tasks import legacy_hashes_wrap_dispatch


class Command(BaseCommand):
    help = "Enqueue the wrapping of every weak legacy hash that is not wrapped yet."

    def handle(self, *args, **options):
        pending = legacy_hashes_pending_count()
        legacy_hashes_wrap_dispatch.delay()
        self.stdout.write(f"{pending} legacy hashes queued for wrapping.")
