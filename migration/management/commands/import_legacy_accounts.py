"""python manage.py import_legacy_accounts FILE --service CODE [--format F] [--encoding E]"""

from __future__ import annotations

import sys

from django.core.management.base import BaseCommand, CommandError

from kernel.errors import ApplicationError
from migration.services import legacy_accounts_import

SHOWN_PROBLEMS = 50


class Command(BaseCommand):
    help = "Import a legacy e-service export (CSV or JSON Lines) into the migration staging table."

    def add_arguments(self, parser):
        parser.add_argument("file")
        parser.add_argument("--service", required=True, help="EService code the export is from")
        parser.add_argument("--format", choices=["csv", "jsonl"], default=None)
        parser.add_argument("--encoding", default=None, help="e.g. cp1252 (default UTF-8)")
        parser.add_argument(
            "--no-wrap", action="store_true", help="do not start the hash-wrapping job"
        )

    def handle(self, *args, **options):
        bar = None
        if sys.stderr.isatty() and options["verbosity"] > 0:
            from tqdm import tqdm

            bar = tqdm(unit=" rows", unit_scale=True, file=sys.stderr)
        try:
            result = legacy_accounts_import(
                service_code=options["service"],
                path=options["file"],
                fmt=options["format"],
                encoding=options["encoding"],
                progress=bar.update if bar is not None else None,
                start_wrap=not options["no_wrap"],
            )
        except (ApplicationError, OSError) as exc:
            raise CommandError(str(exc)) from exc
        finally:
            if bar is not None:
                bar.close()
        run = result.run
        self.stdout.write(
            f"Import report #{run.pk} ({run.filename}, service {options['service']}): "
            f"{run.rows_total} rows read, {run.rows_created} created, {run.rows_updated} updated, "
            f"{run.rows_unchanged} unchanged, {run.rows_failed} bad rows, "
            f"{run.emails_invalid} invalid emails, "
            f"{run.hashes_unrecognized} unrecognized password hashes."
        )
        for problem in result.errors[:SHOWN_PROBLEMS]:
            reason = problem.get_reason_display()
            self.stdout.write(
                f"  line {problem.line} [{problem.severity}] {problem.username}: {reason}"
            )
        if len(result.errors) > SHOWN_PROBLEMS:
            self.stdout.write(f"  ... the full list is in the admin (import run #{run.pk}).")
