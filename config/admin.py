"""Admin of the top floor: the help page's texts (the dashboard is a page of its own)."""

from __future__ import annotations

from django.contrib import admin
from django.utils.translation import gettext_lazy as _

from .help import help_entry_delete, help_entry_save
from .models import HelpEntry


@admin.register(HelpEntry)
class HelpEntryAdmin(admin.ModelAdmin):
    list_display = ("question_fi", "position", "is_published", "updated_at")
    list_editable = ("position", "is_published")
    list_filter = ("is_published",)
    search_fields = ("question_fi", "question_sv", "question_en")
    readonly_fields = ("updated_at",)
    fieldsets = (
        (None, {"fields": ("position", "is_published", "updated_at")}),
        (_("Finnish"), {"fields": ("question_fi", "answer_fi")}),
        (_("Swedish"), {"fields": ("question_sv", "answer_sv")}),
        (_("English"), {"fields": ("question_en", "answer_en")}),
    )

    def save_model(self, request, obj, form, change):
        help_entry_save(
            entry=obj, changed=list(form.changed_data), actor=request.user, request=request
        )

    def delete_model(self, request, obj):
        help_entry_delete(entry=obj, actor=request.user, request=request)

    def delete_queryset(self, request, queryset):
        for entry in queryset:
            help_entry_delete(entry=entry, actor=request.user, request=request)
