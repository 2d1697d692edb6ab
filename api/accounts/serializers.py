from datetime import datetime, timedelta

from django.conf import settings
from django.contrib.auth import authenticate
from django.contrib.auth.password_validation import validate_password
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from rest_framework import serializers
from rest_framework.exceptions import ErrorDetail

from api.accounts.models import User
from api.fields import InstantField, ModelSerializer
from api.organisations.serializers import MyOrganisationSerializer


class UserSerializer(ModelSerializer):
    is_operator = serializers.BooleanField(read_only=True)
    organisations = MyOrganisationSerializer(source="memberships", many=True, read_only=True)

    class Meta:
        model = User
        fields = ["id", "email", "name", "language", "is_operator", "organisations"]
        read_only_fields = ["id", "email"]


class MeSerializer(UserSerializer):
    """GET /auth/me/: the person, and where they stand under fair use (docs/fair-use.md)."""

    paused_until = serializers.SerializerMethodField()
    no_shows = serializers.SerializerMethodField()

    class Meta(UserSerializer.Meta):
        fields = [*UserSerializer.Meta.fields, "paused_until", "no_shows"]

    def get_paused_until(self, user) -> datetime | None:
        # A pause that has ended is shown as none.
        if user.paused_until is None or user.paused_until <= timezone.now():
            return None
        return InstantField().to_representation(user.paused_until)

    def get_no_shows(self, user) -> int:
        """No-shows within the default period (a venue may count in a period of its own)."""
        since = timezone.now() - timedelta(days=settings.NO_SHOW_PERIOD_DAYS)
        return user.bookings.filter(no_show_at__gt=since).count()


class RegisterSerializer(ModelSerializer):
    password = serializers.CharField(write_only=True, style={"input_type": "password"})

    class Meta:
        model = User
        fields = ["email", "password", "name", "language"]
        extra_kwargs = {"name": {"required": True, "allow_blank": False}}

    def validate_email(self, value):
        value = value.lower()
        if User.objects.filter(email=value).exists():
            raise serializers.ValidationError(
                _("An account with this email already exists."), code="unique"
            )
        return value

    def validate_password(self, value):
        validate_password(value)
        return value

    def create(self, validated_data):
        return User.objects.create_user(**validated_data)


class TokenRequestSerializer(serializers.Serializer):
    email = serializers.EmailField()
    password = serializers.CharField(style={"input_type": "password"})

    def validate(self, attrs):
        user = authenticate(email=attrs["email"].lower(), password=attrs["password"])
        if user is None:
            raise serializers.ValidationError(
                {
                    "password": [
                        ErrorDetail(
                            _("Unable to log in with these credentials."),
                            code="invalid_credentials",
                        )
                    ]
                }
            )
        attrs["user"] = user
        return attrs
