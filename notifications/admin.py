"""Staff run the phased campaigns here: create, audience and count, preview, test, schedule,
start, pause, resume, cancel, progress and funnel, retry failures. Each action calls one
service; the control page lives at `<id>/control/`."""

from __future__ import annotations

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.http import urlencode
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_POST

from kernel.errors import ApplicationError

from . import selectors, services
from .defaults import TEMPLATE_VARIABLES, campaign_default_templates
from .forms import CAMPAIGN_FIELD_GROUPS, CampaignAdminForm, LanguageForm, ScheduleForm
from .models import Campaign, Delivery

EDITABLE = (Campaign.Status.DRAFT, Campaign.Status.SCHEDULED, Campaign.Status.PAUSED)
# Actions that act only when POSTed from their confirmation page.
CONFIRMED_ACTIONS = ("start", "schedule", "cancel")
CONFIRM_TITLES = {
    "start": _("Start the campaign “%(name)s” now?"),
    "schedule": _("Schedule the campaign “%(name)s”?"),
    "cancel": _("Cancel the campaign “%(name)s”?"),
}


@admin.register(Campaign)
class CampaignAdmin(admin.ModelAdmin):
    form = CampaignAdminForm
    list_display = ["name", "kind", "status", "scheduled_at", "started_at", "finished_at"]
    list_filter = ["kind", "status"]
    search_fields = ["name"]
    raw_id_fields = ["audience_organizations"]
    readonly_fields = ["status", "recipient_count"]

    @property
    def fieldsets(self):
        groups = dict(CAMPAIGN_FIELD_GROUPS)
        variables = ", ".join(f"{{{{ {v} }}}}" for v in TEMPLATE_VARIABLES)
        return [
            (None, {"fields": [*groups[None][:2], "status", *groups[None][2:]]}),
            (
                _("Audience (every filter that is set narrows it)"),
                {"fields": [*groups["audience"], "recipient_count"]},
            ),
            (_("Sending"), {"fields": groups["sending"]}),
            (
                _("Email in Finnish"),
                {
                    "fields": groups["fi"],
                    "description": _(
                        "Leave empty to use the default text of the kind. Variables: %(vars)s"
                    )
                    % {"vars": variables},
                },
            ),
            (_("Email in Swedish"), {"fields": groups["sv"]}),
            (_("Email in English"), {"fields": groups["en"]}),
        ]

    @admin.display(description=_("recipients now"))
    def recipient_count(self, obj: Campaign | None) -> str:
        if obj is None or obj.pk is None:
            return _("Save the campaign to see the recipient count.")
        if obj.started_at:
            return str(obj.deliveries.count())
        return str(selectors.campaign_recipient_count(campaign=obj))

    def get_readonly_fields(self, request, obj=None):
        if obj is not None and obj.status not in EDITABLE:
            return [f.name for f in Campaign._meta.fields] + [
                "audience_organizations",
                "recipient_count",
            ]
        if obj is not None and obj.started_at:
            # Paused mid-send: the texts may still be fixed, but the deliveries (and the
            # required actions and links of the kind) already exist.
            return [
                *self.readonly_fields,
                "kind",
                "audience_organizations",
                *(f.name for f in Campaign._meta.fields if f.name.startswith("audience_")),
                "skip_done_since",
            ]
        return self.readonly_fields

    def get_changeform_initial_data(self, request: HttpRequest) -> dict:
        # Texts are prefilled only when the kind is chosen up front (the changelist links);
        # otherwise they stay empty and save fills in the defaults of the chosen kind.
        initial = super().get_changeform_initial_data(request)
        kind = request.GET.get("kind")
        if kind in Campaign.Kind.values:
            initial["kind"] = kind
            initial.update(campaign_default_templates(kind))
        return initial

    def changelist_view(self, request, extra_context=None):
        extra_context = {**(extra_context or {}), "campaign_kinds": Campaign.Kind.choices}
        return super().changelist_view(request, extra_context)

    def save_model(self, request, obj: Campaign, form, change: bool) -> None:
        services.campaign_save(
            campaign=obj, actor=request.user, changed_fields=form.changed_data, request=request
        )

    def get_urls(self):
        own = [
            path(
                "<int:campaign_id>/control/",
                self.admin_site.admin_view(self.control_view),
                name="notifications_campaign_control",
            ),
            path(
                "<int:campaign_id>/control/<str:action>/confirm/",
                self.admin_site.admin_view(self.confirm_view),
                name="notifications_campaign_confirm",
            ),
            path(
                "<int:campaign_id>/control/<str:action>/",
                self.admin_site.admin_view(require_POST(self.action_view)),
                name="notifications_campaign_action",
            ),
        ]
        return own + super().get_urls()

    def _campaign(self, request, campaign_id: int) -> Campaign:
        if not self.has_change_permission(request):
            raise PermissionDenied
        return get_object_or_404(
            Campaign.objects.select_related(
                "audience_eservice", "audience_legacy_service"
            ).prefetch_related("audience_organizations"),
            pk=campaign_id,
        )

    def control_view(self, request: HttpRequest, campaign_id: int) -> HttpResponse:
        campaign = self._campaign(request, campaign_id)
        language_form = LanguageForm(request.GET or None)
        language = language_form.cleaned_data["language"] if language_form.is_valid() else "fi"
        preview = preview_error = None
        # The sample recipient: the first of the audience, or the staff member themselves.
        sample = (
            selectors.campaign_audience(campaign=campaign).order_by("pk").first() or request.user
        )
        try:
            preview = services.campaign_preview(campaign=campaign, language=language, user=sample)
        except ApplicationError as exc:
            preview_error = exc.message
        progress = selectors.campaign_progress(campaign=campaign)
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": _("Campaign: %(name)s") % {"name": campaign.name},
            "campaign": campaign,
            **self._audience_context(campaign, progress=progress),
            "progress": progress,
            "funnel": selectors.campaign_funnel(campaign=campaign),
            "failed": selectors.campaign_failed_deliveries(campaign=campaign),
            "language_form": language_form,
            "language": language,
            "preview": preview,
            "preview_error": preview_error,
            "sample": sample,
            "schedule_form": ScheduleForm(initial={"scheduled_at": campaign.scheduled_at}),
            "variables": TEMPLATE_VARIABLES,
            "Status": Campaign.Status,
        }
        return TemplateResponse(request, "admin/notifications/campaign/control.html", context)

    def _audience_context(self, campaign: Campaign, *, progress=None) -> dict:
        narrowing, notes = selectors.campaign_audience_description(campaign=campaign)
        # Before the start: who would be left out. Once started, the deliveries tell.
        left_out = {"skipped": None, "suppressed": None}
        if campaign.started_at is None:
            recipients = selectors.campaign_recipient_count(campaign=campaign)
            left_out = selectors.campaign_left_out_counts(campaign=campaign)
        else:
            recipients = (progress or selectors.campaign_progress(campaign=campaign)).total
        return {
            "recipient_count": recipients,
            "skipped_count": left_out["skipped"],
            "suppressed_count": left_out["suppressed"],
            "audience_narrowing": narrowing,
            "audience_notes": notes,
        }

    def confirm_view(self, request: HttpRequest, campaign_id: int, action: str) -> HttpResponse:
        """The page between "Start now" / "Schedule" / "Cancel campaign" and the act: who it
        goes to, in numbers and words, and a sample. Its form POSTs (CSRF) to the action."""
        campaign = self._campaign(request, campaign_id)
        if action not in CONFIRMED_ACTIONS:
            raise Http404
        back = HttpResponseRedirect(
            reverse("admin:notifications_campaign_control", args=[campaign.pk])
        )
        schedule_form = None
        if action == "schedule":
            schedule_form = ScheduleForm(request.GET)
            if not schedule_form.is_valid():
                messages.error(request, _("Give a valid start time."))
                return back
        if action in ("start", "schedule"):
            try:
                services.campaign_templates_validate(campaign=campaign)
            except ApplicationError as exc:
                messages.error(request, exc.message)
                return back
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": CONFIRM_TITLES[action] % {"name": campaign.name},
            "campaign": campaign,
            "action": action,
            "schedule_form": schedule_form,
            "scheduled_at": request.GET.get("scheduled_at", ""),
            "sample": (
                selectors.campaign_recipient_sample(campaign=campaign) if action != "cancel" else []
            ),
            **self._audience_context(campaign),
        }
        return TemplateResponse(request, "admin/notifications/campaign/confirm.html", context)

    def action_view(self, request: HttpRequest, campaign_id: int, action: str) -> HttpResponse:
        campaign = self._campaign(request, campaign_id)
        actor = request.user
        back = HttpResponseRedirect(
            reverse("admin:notifications_campaign_control", args=[campaign.pk])
        )
        if action in CONFIRMED_ACTIONS and request.POST.get("confirmed") != "1":
            # Only the confirmation page's form acts; anything else is shown that page.
            url = reverse("admin:notifications_campaign_confirm", args=[campaign.pk, action])
            if action == "schedule":
                url += "?" + urlencode({"scheduled_at": request.POST.get("scheduled_at", "")})
            return HttpResponseRedirect(url)
        try:
            if action == "start":
                services.campaign_start_request(campaign=campaign, actor=actor, request=request)
                messages.success(
                    request,
                    _("The campaign is starting: recipients are listed in the background."),
                )
            elif action == "schedule":
                form = ScheduleForm(request.POST)
                if not form.is_valid():
                    messages.error(request, _("Give a valid start time."))
                    return back
                services.campaign_schedule(
                    campaign=campaign, actor=actor, at=form.cleaned_data["scheduled_at"]
                )
                messages.success(request, _("The campaign was scheduled."))
            elif action == "pause":
                services.campaign_pause(campaign=campaign, actor=actor, request=request)
                messages.success(request, _("The campaign was paused."))
            elif action == "resume":
                services.campaign_resume(campaign=campaign, actor=actor, request=request)
                messages.success(request, _("The campaign was resumed."))
            elif action == "cancel":
                services.campaign_cancel(campaign=campaign, actor=actor, request=request)
                messages.success(request, _("The campaign was cancelled."))
            elif action == "retry":
                ids = [int(pk) for pk in request.POST.getlist("delivery") if pk.isdigit()]
                count = services.campaign_deliveries_retry(
                    campaign=campaign, actor=actor, delivery_ids=ids or None, request=request
                )
                messages.success(
                    request, _("%(count)d deliveries will be retried.") % {"count": count}
                )
            elif action == "test":
                form = LanguageForm(request.POST)
                language = form.cleaned_data["language"] if form.is_valid() else "fi"
                services.campaign_test_send(
                    campaign=campaign, actor=actor, language=language, request=request
                )
                messages.success(
                    request, _("A test email was sent to %(email)s.") % {"email": actor.email}
                )
            else:
                raise PermissionDenied
        except ApplicationError as exc:
            messages.error(request, exc.message)
        return back


@admin.register(Delivery)
class DeliveryAdmin(admin.ModelAdmin):
    list_display = ["campaign", "user", "status", "outcome", "attempts", "sent_at", "last_error"]
    list_filter = ["status", "outcome"]
    search_fields = ["user__email"]
    raw_id_fields = ["campaign", "user"]
    list_select_related = ["campaign", "user"]
    show_full_result_count = False

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        # A delivery row is the record that its recipient was (or is being) sent to.
        return False
