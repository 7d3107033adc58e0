"""python manage.py merge_legacy_accounts [--dry-run] [--batch-size N] [--language L]"""

from __future__ import annotations

from django.core.management.base import CommandError
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from kernel.errors import ApplicationError
from migration.report import plan_table_lines
from migration.services import legacy_accounts_merge, legacy_merge_plan

from ._base import MigrationCommand


class Command(MigrationCommand):
    help = gettext_lazy(
        "Plan (--dry-run) or apply the merge of legacy accounts into email identities."
    )

    def add_arguments(self, parser):
        parser.add_argument("--dry-run", action="store_true", help=_("only plan and report"))
        parser.add_argument(
            "--batch-size",
            type=int,
            default=None,
            help=_("identities per transaction (default: the setting)"),
        )

    def handle(self, *args, **options):
        try:
            if options["dry_run"]:
                plan = legacy_merge_plan()
            else:
                plan = legacy_accounts_merge(batch_size=options["batch_size"])
        except ApplicationError as exc:
            raise CommandError(str(exc.message)) from exc
        title = (
            _("Merge applied, report #%(id)s")
            if plan.applied
            else _("Merge plan #%(id)s (dry run, nothing merged)")
        )
        self.stdout.write(title % {"id": plan.pk})
        for line in plan_table_lines(plan.report):
            self.stdout.write(line)
        self.stdout.write("")
        self.stdout.write(
            _("The same report in the admin: Legacy migration → Merge plans → #%(id)s.")
            % {"id": plan.pk}
        )
