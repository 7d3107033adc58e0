"""What every migration management command shares: its messages follow the operator's
language. `--language fi|sv|en` chooses it for one run; without it the command speaks
`settings.LANGUAGE_CODE` (the portal's default language, Finnish). Not the POSIX `LANGUAGE`
environment variable: a desktop often sets that to something like `en_US:en`, and the
operator's choice should not depend on which terminal runs the command."""

from __future__ import annotations

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.utils import translation
from django.utils.translation import gettext

from migration.selectors import eservice_codes


def unknown_service_message(code: str) -> str:
    """An unknown e-service code, and the codes that exist."""
    codes = eservice_codes()
    existing = (
        gettext("The existing codes: %(codes)s.") % {"codes": ", ".join(codes)}
        if codes
        else gettext("There are no e-services yet.")
    )
    return gettext("Unknown e-service code “%(code)s”.") % {"code": code} + " " + existing


def _language_in(args: list[str]) -> str | None:
    known = {code for code, _name in settings.LANGUAGES}
    for n, arg in enumerate(args):
        value = None
        if arg == "--language" and n + 1 < len(args):
            value = args[n + 1]
        elif arg.startswith("--language="):
            value = arg.partition("=")[2]
        if value in known:
            return value
    return None


class MigrationCommand(BaseCommand):
    def create_parser(self, prog_name, subcommand, **kwargs):
        # argparse formats plain strings only: the texts are translated here, in the
        # language active while the parser is made (see run_from_argv).
        self.help = str(type(self).help)
        parser = super().create_parser(prog_name, subcommand, **kwargs)
        parser.add_argument(
            "--language",
            choices=[code for code, _name in settings.LANGUAGES],
            default=None,
            help=gettext("language of the messages (default: the LANGUAGE_CODE setting)"),
        )
        return parser

    def run_from_argv(self, argv):
        """From the shell: `--help` and argument errors also speak the chosen language."""
        with translation.override(_language_in(argv[2:]) or settings.LANGUAGE_CODE):
            return super().run_from_argv(argv)

    def execute(self, *args, **options):
        language = options.get("language") or settings.LANGUAGE_CODE
        with translation.override(language):
            try:
                return super().execute(*args, **options)
            except CommandError as exc:
                # Rendered here, in the chosen language: Django prints it after we return.
                raise CommandError(str(exc), returncode=exc.returncode) from exc

    def table(self, rows: list[tuple[str, object]], *, indent: str = "  ") -> None:
        """Label/value rows, the values aligned in one column."""
        labels = [str(label) for label, _value in rows]
        width = max((len(label) for label in labels), default=0)
        for label, (_label, value) in zip(labels, rows, strict=True):
            self.stdout.write(f"{indent}{label.ljust(width)}  {value}")
