"""API for main users: members and invitations of an organization, and the e-service catalog.

Thin views over the same services and selectors as the main-user pages: tenancy comes from
the permission-checked fetchers (`*_get_for_main_user`, 404 for another organization's ids)
and every rule (the last main user, already a member, unknown e-service) from the services,
whose `ApplicationError` codes the API returns as they are."""

from __future__ import annotations

from django.db import transaction
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view
from rest_framework import generics, serializers, status
from rest_framework.response import Response

from . import selectors, services
from .models import EService, Invitation, Membership

MANAGE = ["organizations:manage"]


# --- serializers ------------------------------------------------------------------------------


class EServiceSerializer(serializers.ModelSerializer):
    name = serializers.CharField(read_only=True, help_text="In the request's language.")

    class Meta:
        model = EService
        fields = ["code", "name", "name_fi", "name_sv", "name_en", "requires_membership"]
        read_only_fields = fields


class _ServiceCodesField(serializers.ListField):
    child = serializers.SlugField(max_length=50)


class MemberSerializer(serializers.ModelSerializer):
    user_uuid = serializers.UUIDField(source="user.uuid", read_only=True)
    email = serializers.EmailField(source="user.email", read_only=True)
    first_name = serializers.CharField(source="user.first_name", read_only=True)
    last_name = serializers.CharField(source="user.last_name", read_only=True)
    eservices = serializers.SerializerMethodField()

    class Meta:
        model = Membership
        fields = [
            "id",
            "user_uuid",
            "email",
            "first_name",
            "last_name",
            "role",
            "status",
            "source",
            "eservices",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields

    def get_eservices(self, membership: Membership) -> list[str]:
        return [s.code for s in membership.services.all()]


class MemberUpdateSerializer(serializers.Serializer):
    """Change a member's role and/or e-services. Other fields are ignored."""

    role = serializers.ChoiceField(choices=Membership.Role.choices, required=False)
    eservices = _ServiceCodesField(required=False, max_length=100)


class InvitationSerializer(serializers.ModelSerializer):
    eservices = serializers.SerializerMethodField()
    invited_by = serializers.SerializerMethodField()
    is_expired = serializers.BooleanField(read_only=True)

    class Meta:
        model = Invitation
        fields = [
            "id",
            "email",
            "role",
            "eservices",
            "invited_by",
            "created_at",
            "expires_at",
            "is_expired",
        ]
        read_only_fields = fields

    def get_eservices(self, invitation: Invitation) -> list[str]:
        return [s.code for s in invitation.services.all()]

    def get_invited_by(self, invitation: Invitation) -> str | None:
        return invitation.invited_by.email if invitation.invited_by_id else None


class InviteSerializer(serializers.Serializer):
    """One invitation. The organization comes from the URL; other fields are ignored."""

    email = serializers.CharField(max_length=254)
    role = serializers.ChoiceField(choices=Membership.Role.choices, default="member")
    eservices = _ServiceCodesField(required=False, default=list, max_length=100)


class InvitationsCreateSerializer(serializers.Serializer):
    invitations = InviteSerializer(many=True, allow_empty=False, max_length=1000)


class InviteOutcomeSerializer(serializers.Serializer):
    email = serializers.CharField()
    status = serializers.ChoiceField(
        choices=["invited", "already_member", "already_invited", "invalid"]
    )
    code = serializers.CharField(allow_blank=True)
    message = serializers.CharField(allow_blank=True)


class InvitationsCreateResultSerializer(serializers.Serializer):
    results = InviteOutcomeSerializer(many=True)


# --- views ------------------------------------------------------------------------------------

ORG_ID = OpenApiParameter("organization_id", OpenApiTypes.INT, OpenApiParameter.PATH)
MEMBER_FILTERS = [
    OpenApiParameter("search", str, description="Email or name contains."),
    OpenApiParameter("role", str, enum=[c for c, _ in Membership.Role.choices]),
    OpenApiParameter("status", str, enum=[c for c, _ in Membership.Status.choices]),
    OpenApiParameter("eservice", str, description="Has this e-service (code)."),
]


def _clean(value: str) -> str:
    """Query-string text for a database filter: PostgreSQL refuses NUL characters."""
    return value.replace("\x00", "")


class EServiceListView(generics.ListAPIView):
    """The active e-services, with whether each needs an organization membership."""

    serializer_class = EServiceSerializer
    required_scopes: list[str] = []

    def get_queryset(self):
        return selectors.eservices_active()


class _MainUserMixin:
    required_scopes = MANAGE

    def get_organization(self):
        return selectors.organization_get_for_main_user(
            user=self.request.user, organization_id=self.kwargs["organization_id"]
        )


@extend_schema_view(
    get=extend_schema(parameters=MEMBER_FILTERS, responses=MemberSerializer(many=True)),
    post=extend_schema(
        request=InviteSerializer,
        responses={201: InvitationSerializer},
        description="Invite one person (same as the invitations endpoint with one row).",
    ),
)
class MemberListView(_MainUserMixin, generics.GenericAPIView):
    """Members of an organization you are a main user of (removed ones only when asked for
    with `status=removed`). Bearer tokens need `organizations:manage`."""

    serializer_class = MemberSerializer

    def get(self, request, organization_id: int):
        organization = self.get_organization()
        params = {k: _clean(v) for k, v in request.query_params.items()}
        status_filter = params.get("status", "")
        role_filter = params.get("role", "")
        queryset = selectors.organization_members_list(
            organization=organization,
            search=params.get("search", "")[:100],
            role=role_filter if role_filter in Membership.Role.values else "",
            status=status_filter if status_filter in Membership.Status.values else "",
            service=params.get("eservice", "")[:50],
        )
        page = self.paginate_queryset(queryset)
        return self.get_paginated_response(MemberSerializer(page, many=True).data)

    def post(self, request, organization_id: int):
        organization = self.get_organization()
        data = InviteSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        invitation = services.membership_invite(
            organization=organization,
            email=data.validated_data["email"],
            role=data.validated_data["role"],
            services=data.validated_data["eservices"],
            actor=request.user,
            request=request,
        )
        return Response(InvitationSerializer(invitation).data, status=status.HTTP_201_CREATED)


@extend_schema_view(
    patch=extend_schema(request=MemberUpdateSerializer, responses=MemberSerializer),
    delete=extend_schema(responses={204: None}),
)
class MemberDetailView(_MainUserMixin, generics.GenericAPIView):
    """One member. PATCH changes role and/or e-services; DELETE removes the member. The last
    main user can be neither demoted nor removed (`last_main_user`)."""

    serializer_class = MemberSerializer

    def get_membership(self) -> Membership:
        return selectors.membership_get_for_main_user(
            user=self.request.user,
            organization_id=self.kwargs["organization_id"],
            membership_id=self.kwargs["membership_id"],
        )

    def get(self, request, organization_id: int, membership_id: int):
        return Response(MemberSerializer(self.get_membership()).data)

    def patch(self, request, organization_id: int, membership_id: int):
        membership = self.get_membership()
        data = MemberUpdateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        changes = data.validated_data
        with transaction.atomic():  # both changes or neither
            if "role" in changes:
                services.membership_role_change(
                    membership=membership, role=changes["role"], actor=request.user, request=request
                )
            if "eservices" in changes:
                services.membership_services_set(
                    membership=membership,
                    services=changes["eservices"],
                    actor=request.user,
                    request=request,
                )
        return Response(MemberSerializer(self.get_membership()).data)

    def delete(self, request, organization_id: int, membership_id: int):
        services.membership_remove(
            membership=self.get_membership(), actor=request.user, request=request
        )
        return Response(status=status.HTTP_204_NO_CONTENT)


@extend_schema_view(
    get=extend_schema(responses=InvitationSerializer(many=True)),
    post=extend_schema(
        request=InvitationsCreateSerializer,
        responses={200: InvitationsCreateResultSerializer},
        description=(
            "Invite up to 1,000 addresses at once. Every row is reported back: invited, "
            "already a member, already invited or invalid."
        ),
    ),
)
class InvitationListView(_MainUserMixin, generics.GenericAPIView):
    """Open invitations of an organization you are a main user of."""

    serializer_class = InvitationSerializer

    def get(self, request, organization_id: int):
        organization = self.get_organization()
        page = self.paginate_queryset(
            selectors.organization_invitations_open(organization=organization)
        )
        return self.get_paginated_response(InvitationSerializer(page, many=True).data)

    def post(self, request, organization_id: int):
        organization = self.get_organization()
        data = InvitationsCreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        rows = [
            services.InviteRow(
                email=row["email"], role=row["role"], services=tuple(row["eservices"]), line=i
            )
            for i, row in enumerate(data.validated_data["invitations"], start=1)
        ]
        report = services.invitations_bulk_create(
            organization=organization, rows=rows, actor=request.user, request=request
        )
        results = [
            {"email": o.email, "status": o.status, "code": o.code, "message": o.message}
            for o in report
        ]
        return Response({"results": results})


@extend_schema_view(delete=extend_schema(responses={204: None}))
class InvitationDetailView(_MainUserMixin, generics.GenericAPIView):
    """One invitation; DELETE revokes it (its link stops working)."""

    serializer_class = InvitationSerializer

    def get_invitation(self) -> Invitation:
        return selectors.invitation_get_for_main_user(
            user=self.request.user,
            organization_id=self.kwargs["organization_id"],
            invitation_id=self.kwargs["invitation_id"],
        )

    def get(self, request, organization_id: int, invitation_id: int):
        return Response(InvitationSerializer(self.get_invitation()).data)

    def delete(self, request, organization_id: int, invitation_id: int):
        services.invitation_revoke(
            invitation=self.get_invitation(), actor=request.user, request=request
        )
        return Response(status=status.HTTP_204_NO_CONTENT)


@extend_schema(request=None, responses=InvitationSerializer)
class InvitationResendView(_MainUserMixin, generics.GenericAPIView):
    """Send the invitation again with a new link and expiry (the old link stops working)."""

    serializer_class = InvitationSerializer

    def post(self, request, organization_id: int, invitation_id: int):
        invitation = selectors.invitation_get_for_main_user(
            user=request.user, organization_id=organization_id, invitation_id=invitation_id
        )
        invitation = services.invitation_resend(
            invitation=invitation, actor=request.user, request=request
        )
        return Response(InvitationSerializer(invitation).data)


class MyMembershipSerializer(serializers.Serializer):
    organization_id = serializers.IntegerField(source="organization.pk")
    name = serializers.CharField(source="organization.name")
    business_id = serializers.CharField(source="organization.business_id")
    role = serializers.ChoiceField(choices=Membership.Role.choices)
    status = serializers.ChoiceField(choices=Membership.Status.choices)
    eservices = serializers.SerializerMethodField()

    def get_eservices(self, membership) -> list[str]:
        return [s.code for s in membership.services.all()]


class MyOrganizationsView(generics.ListAPIView):
    """Organizations the caller belongs to (active and pending memberships), with role and
    granted e-services. Bearer tokens need the `organizations` scope."""

    serializer_class = MyMembershipSerializer
    required_scopes = ["organizations"]

    def get_queryset(self):
        return selectors.memberships_for_user(user=self.request.user)
