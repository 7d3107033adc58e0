"""`/api/v1/` routes. Each app's `api.py` holds its serializers and views."""

from django.urls import path, re_path, register_converter

from organizations import api as organizations_api
from posti_accounts import api as accounts_api

from .api import not_found_view


class ObjectIdConverter:
    """A database id: 1-18 digits, so an out-of-range number is a 404, never an overflow."""

    regex = "[0-9]{1,18}"

    def to_python(self, value: str) -> int:
        return int(value)

    def to_url(self, value) -> str:
        return str(value)


register_converter(ObjectIdConverter, "oid")

app_name = "api"

ORG = "organizations/<oid:organization_id>"

urlpatterns = [
    path("me", accounts_api.MeView.as_view(), name="me"),
    path(
        "me/organizations", organizations_api.MyOrganizationsView.as_view(), name="me-organizations"
    ),
    path("eservices", organizations_api.EServiceListView.as_view(), name="eservices"),
    path(f"{ORG}/members", organizations_api.MemberListView.as_view(), name="members"),
    path(
        f"{ORG}/members/<oid:membership_id>",
        organizations_api.MemberDetailView.as_view(),
        name="member",
    ),
    path(f"{ORG}/invitations", organizations_api.InvitationListView.as_view(), name="invitations"),
    path(
        f"{ORG}/invitations/<oid:invitation_id>",
        organizations_api.InvitationDetailView.as_view(),
        name="invitation",
    ),
    path(
        f"{ORG}/invitations/<oid:invitation_id>/resend",
        organizations_api.InvitationResendView.as_view(),
        name="invitation-resend",
    ),
    # Anything else under /api/v1/ answers in the API's error format, not an HTML page.
    re_path(r"^.*$", not_found_view, name="not-found"),
]
