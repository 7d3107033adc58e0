"""python manage.py retire_legacy_credentials --service CODE [--language L]"""

from __future__ import annotations

from django.core.management.base import CommandError
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext

from kernel.errors import ApplicationError
from migration.services import legacy_credentials_retire

from ._base import MigrationCommand, unknown_service_message


class Command(MigrationCommand):
    help = gettext_lazy("Cut-over: the old usernames and passwords of one e-service stop working.")

    def add_arguments(self, parser):
        parser.add_argument("--service", required=True, help=_("e-service code"))

    def handle(self, *args, **options):
        try:
            count = legacy_credentials_retire(service_code=options["service"])
        except ApplicationError as exc:
            if exc.code == "unknown_service":
                raise CommandError(unknown_service_message(options["service"])) from exc
            raise CommandError(str(exc.message)) from exc
        self.stdout.write(
            ngettext(
                "Retired %(count)d legacy account of e-service %(service)s.",
                "Retired %(count)d legacy accounts of e-service %(service)s.",
                count,
            )
            % {"count": count, "service": options["service"]}
        )
