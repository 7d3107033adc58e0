"""python manage.py wrap_legacy_hashes [--language L]: (re)start the resumable hash-wrapping
job."""

from __future__ import annotations

from django.utils.translation import gettext_lazy, ngettext

from migration.services import legacy_hashes_pending_count
from migration.tasks import legacy_hashes_wrap_dispatch

from ._base import MigrationCommand


class Command(MigrationCommand):
    help = gettext_lazy("Enqueue the wrapping of every weak legacy hash that is not wrapped yet.")

    def handle(self, *args, **options):
        pending = legacy_hashes_pending_count()
        legacy_hashes_wrap_dispatch.delay()
        self.stdout.write(
            ngettext(
                "%(count)d legacy hash queued for wrapping.",
                "%(count)d legacy hashes queued for wrapping.",
                pending,
            )
            % {"count": pending}
        )
