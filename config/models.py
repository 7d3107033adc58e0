"""Models of the top floor: the rollout dashboard's daily snapshots (they read every app)."""

from __future__ import annotations

from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class RolloutSnapshot(models.Model):
    """The rollout's figures for one day, taken by a periodic task (`rollout_snapshot_take`):
    the dashboard reads these rows instead of counting millions of rows per request. The task
    refreshes today's row through the day; yesterday's last refresh is its final figure."""

    day = models.DateField(_("day"), unique=True)
    taken_at = models.DateTimeField(_("taken at"), default=timezone.now)
    figures = models.JSONField(_("figures"), default=dict)

    class Meta:
        verbose_name = _("rollout snapshot")
        verbose_name_plural = _("rollout snapshots")
        ordering = ["-day"]
        default_permissions = ("view",)

    def __str__(self) -> str:
        return self.day.isoformat()
