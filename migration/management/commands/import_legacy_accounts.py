"""python manage.py import_legacy_accounts FILE --service CODE [--create-service NAME]
[--format F] [--encoding E] [--language L]"""

from __future__ import annotations

import sys

from django.core.management.base import CommandError
from django.utils.text import capfirst
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from kernel.errors import ApplicationError
from migration.models import ImportRun
from migration.selectors import eservice_codes
from migration.services import legacy_accounts_import
from organizations.services import eservice_create

from ._base import MigrationCommand, unknown_service_message

SHOWN_PROBLEMS = 50
_COUNTS = [
    "rows_total",
    "rows_created",
    "rows_updated",
    "rows_unchanged",
    "rows_failed",
    "emails_invalid",
    "hashes_unrecognized",
]


class Command(MigrationCommand):
    help = gettext_lazy(
        "Import a legacy e-service export (CSV or JSON Lines) into the migration staging table."
    )

    def add_arguments(self, parser):
        parser.add_argument("file")
        parser.add_argument("--service", required=True, help=_("e-service code the export is from"))
        parser.add_argument(
            "--create-service",
            metavar="NAME",
            default=None,
            help=_("add the e-service with this display name if the code is new"),
        )
        parser.add_argument(
            "--format",
            choices=["csv", "jsonl"],
            default=None,
            help=_("file format (default: by the file name)"),
        )
        parser.add_argument("--encoding", default=None, help=_("e.g. cp1252 (default UTF-8)"))
        parser.add_argument(
            "--no-wrap",
            action="store_true",
            help=_("do not start the hash-wrapping job"),
        )

    def handle(self, *args, **options):
        code = options["service"]
        if options["create_service"] is not None and code not in eservice_codes():
            self._service_create(code, options["create_service"], options["file"])
        bar = None
        if sys.stderr.isatty() and options["verbosity"] > 0:
            from tqdm import tqdm

            bar = tqdm(unit=" " + _("rows"), unit_scale=True, file=sys.stderr)
        try:
            result = legacy_accounts_import(
                service_code=code,
                path=options["file"],
                fmt=options["format"],
                encoding=options["encoding"],
                progress=bar.update if bar is not None else None,
                start_wrap=not options["no_wrap"],
            )
        except ApplicationError as exc:
            if exc.code == "unknown_service":
                raise CommandError(self._unknown_service(code)) from exc
            raise CommandError(str(exc.message)) from exc
        except OSError as exc:
            raise CommandError(_("Cannot read the file: %(error)s") % {"error": exc}) from exc
        finally:
            if bar is not None:
                bar.close()
        self._report(result, code)

    def _service_create(self, code: str, name: str, path: str) -> None:
        try:
            with open(path, "rb"):  # nothing is created for a file that cannot be read
                pass
        except OSError as exc:
            raise CommandError(_("Cannot read the file: %(error)s") % {"error": exc}) from exc
        try:
            eservice_create(code=code, name=name, actor=None)
        except ApplicationError as exc:
            raise CommandError(str(exc.message)) from exc
        self.stdout.write(
            _("E-service %(code)s (%(name)s) created; translate its names in the admin.")
            % {"code": code, "name": name.strip()}
        )

    @staticmethod
    def _unknown_service(code: str) -> str:
        return " ".join(
            [
                unknown_service_message(code),
                _(
                    "Add the e-service in the admin (Organizations → E-services → Add), or "
                    'run the import again with --create-service "Display name".'
                ),
            ]
        )

    def _report(self, result, code: str) -> None:
        run = result.run
        self.stdout.write(
            _("Import report #%(id)s (%(file)s, e-service %(service)s)")
            % {"id": run.pk, "file": run.filename, "service": code}
        )
        self.table(
            [
                (capfirst(ImportRun._meta.get_field(name).verbose_name), getattr(run, name))
                for name in _COUNTS
            ]
        )
        for problem in result.errors[:SHOWN_PROBLEMS]:
            self.stdout.write(
                "  "
                + _("line %(line)s [%(severity)s] %(username)s: %(reason)s")
                % {
                    "line": problem.line,
                    "severity": problem.get_severity_display(),
                    "username": problem.username,
                    "reason": problem.get_reason_display(),
                }
            )
        if len(result.errors) > SHOWN_PROBLEMS:
            self.stdout.write(
                "  " + _("… the full list is in the admin (import run #%(id)s).") % {"id": run.pk}
            )
