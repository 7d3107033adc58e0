from django.apps import AppConfig


class ProjectConfig(AppConfig):
    """The top floor as an app, for the commands that span every app (seed_demo)."""

    name = "config"
    label = "project"
    verbose_name = "Tunnustenhallinta"

    def ready(self) -> None:
        from config import metrics

        metrics.receivers_connect()
