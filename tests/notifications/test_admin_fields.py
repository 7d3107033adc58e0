"""The campaign form's fields are listed once (notifications/forms.py); the admin shows
exactly those, plus its read-only status and recipient count."""

from django.contrib import admin
from django.test import RequestFactory

from notifications.forms import CAMPAIGN_FORM_FIELDS, CampaignAdminForm
from notifications.models import Campaign


def test_admin_fieldsets_are_the_form_fields():
    model_admin = admin.site._registry[Campaign]
    request = RequestFactory().get("/")
    shown = [
        name for _title, options in model_admin.get_fieldsets(request) for name in options["fields"]
    ]
    assert sorted(set(shown) - {"status", "recipient_count"}) == sorted(CAMPAIGN_FORM_FIELDS)
    assert len(shown) == len(set(shown))
    assert CampaignAdminForm._meta.fields == CAMPAIGN_FORM_FIELDS
    assert {"audience_include_staff", "skip_done_since"} <= set(CAMPAIGN_FORM_FIELDS)
