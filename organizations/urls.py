from django.urls import path

from . import views

app_name = "organizations"

_member = "<int:organization_id>/members/<int:membership_id>/"
_invitation = "<int:organization_id>/invitations/<int:invitation_id>/"

urlpatterns = [
    path("", views.organization_list, name="list"),
    path("switch/", views.organization_switch, name="switch"),
    path("invitations/<str:token>/", views.invitation_accept, name="invitation_accept"),
    path("<int:organization_id>/", views.organization_detail, name="detail"),
    path("<int:organization_id>/leave/", views.organization_leave, name="leave"),
    path("<int:organization_id>/invite/", views.invite, name="invite"),
    path("<int:organization_id>/invitations/", views.invitation_list, name="invitations"),
    path(_invitation + "resend/", views.invitation_resend, name="invitation_resend"),
    path(_invitation + "revoke/", views.invitation_revoke, name="invitation_revoke"),
    path(_member, views.member_detail, name="member"),
    path(_member + "role/", views.member_role, name="member_role"),
    path(_member + "services/", views.member_services, name="member_services"),
    path(_member + "handover/", views.member_handover, name="member_handover"),
    path(_member + "remove/", views.member_remove, name="member_remove"),
    path("<int:organization_id>/export.csv", views.members_export, name="export"),
    path("<int:organization_id>/audit/", views.audit_trail, name="audit"),
    path("<int:organization_id>/rollout/", views.rollout, name="rollout"),
    path("<int:organization_id>/rollout/remind/", views.rollout_remind, name="rollout_remind"),
]
