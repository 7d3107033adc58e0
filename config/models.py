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


class HelpEntry(models.Model):
    """One question and answer of the public help page, per language. Staff edit them in the
    admin; the texts are plain text (shown escaped, paragraphs kept, addresses linked), so
    nothing typed in the admin can put markup or script on the page."""

    position = models.PositiveIntegerField(_("position"), default=0)
    question_fi = models.CharField(_("question (Finnish)"), max_length=300)
    question_sv = models.CharField(_("question (Swedish)"), max_length=300)
    question_en = models.CharField(_("question (English)"), max_length=300)
    answer_fi = models.TextField(_("answer (Finnish)"))
    answer_sv = models.TextField(_("answer (Swedish)"))
    answer_en = models.TextField(_("answer (English)"))
    is_published = models.BooleanField(_("published"), default=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        verbose_name = _("help text")
        verbose_name_plural = _("help texts")
        ordering = ["position", "pk"]

    def __str__(self) -> str:
        return self.question_fi

    def text(self, language: str) -> tuple[str, str]:
        """(question, answer) in `language`, Finnish where that language is left empty."""
        lang = language[:2] if language[:2] in {"fi", "sv", "en"} else "fi"
        question = getattr(self, f"question_{lang}") or self.question_fi
        answer = getattr(self, f"answer_{lang}") or self.answer_fi
        return question, answer
