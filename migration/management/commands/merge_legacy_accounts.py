"""python manage.py merge_legacy_accounts [--dry-run]"""

from __future__ import annotations

import json

from django.core.management.base import BaseCommand, CommandError

from kernel.errors import ApplicationError
from migration.services import legacy_accounts_merge, legacy_merge_plan


class Command(BaseCommand):
    help = "Plan (--dry-run) or apply the merge of legacy accounts into email identities."

    def add_arguments(self, parser):
        parser.add_argument("--dry-run", action="store_true", help="only plan and report")
        parser.add_argument("--batch-size", type=int, default=None)

    def handle(self, *args, **options):
        try:
            if options["dry_run"]:
                plan = legacy_merge_plan()
            else:
                plan = legacy_accounts_merge(batch_size=options["batch_size"])
        except ApplicationError as exc:
            raise CommandError(str(exc)) from exc
        title = "Merge applied" if plan.applied else "Merge plan (dry run, nothing merged)"
        self.stdout.write(f"{title}, report #{plan.pk}:")
        self.stdout.write(json.dumps(plan.report, indent=2, ensure_ascii=False))
