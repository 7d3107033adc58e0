"""API for the caller's own account: `me` (read and update own details). Same services and
selectors as the Omat tiedot pages; `me/organizations` lives in organizations/api.py."""

from __future__ import annotations

from django.core.exceptions import ValidationError as DjangoValidationError
from drf_spectacular.utils import extend_schema
from rest_framework import generics, serializers
from rest_framework.response import Response

from . import services
from .models import Language, User
from .phone import phone_normalize
from .selectors import user_primary_email_verified


class MeSerializer(serializers.Serializer):
    """Own details. Only name, phone and language can be changed; every other field is
    read-only and ignored on input (email changes through the verified email flow)."""

    uuid = serializers.UUIDField(read_only=True, help_text="Stable public id (the OIDC `sub`).")
    email = serializers.EmailField(read_only=True)
    email_verified = serializers.SerializerMethodField()
    first_name = serializers.CharField(max_length=150, allow_blank=True, required=False)
    last_name = serializers.CharField(max_length=150, allow_blank=True, required=False)
    phone = serializers.CharField(
        max_length=32, allow_blank=True, required=False, help_text="E.164, e.g. +358401234567."
    )
    preferred_language = serializers.ChoiceField(choices=Language.choices, required=False)
    required_actions = serializers.ListField(child=serializers.CharField(), read_only=True)
    details_confirmed_at = serializers.DateTimeField(read_only=True, allow_null=True)

    def get_email_verified(self, user: User) -> bool:
        return user_primary_email_verified(user=user)

    def validate_first_name(self, value: str) -> str:
        return value.strip()

    def validate_last_name(self, value: str) -> str:
        return value.strip()

    def validate_phone(self, value: str) -> str:
        try:
            return phone_normalize(value)
        except DjangoValidationError as exc:
            raise serializers.ValidationError(exc.messages) from exc


class MeView(generics.GenericAPIView):
    """The caller's own details. Bearer tokens need the `profile` scope."""

    serializer_class = MeSerializer
    required_scopes = ["profile"]
    pagination_class = None

    def get(self, request):
        return Response(MeSerializer(request.user).data)

    @extend_schema(request=MeSerializer, responses=MeSerializer)
    def patch(self, request):
        serializer = MeSerializer(request.user, data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        # A fresh copy, so the service compares stored values (not the request's user).
        user = User.objects.get(pk=request.user.pk)
        services.user_details_update(
            user=user, actor=user, request=request, **serializer.validated_data
        )
        return Response(MeSerializer(user).data)
