from django.contrib.auth import authenticate
from django.contrib.auth.password_validation import validate_password
from django.utils.translation import gettext_lazy as _
from rest_framework import serializers
from rest_framework.exceptions import ErrorDetail

from api.accounts.models import User
from api.fields import ModelSerializer
from api.organisations.serializers import MyOrganisationSerializer


class UserSerializer(ModelSerializer):
    is_operator = serializers.BooleanField(read_only=True)
    organisations = MyOrganisationSerializer(source="memberships", many=True, read_only=True)

    class Meta:
        model = User
        fields = ["id", "email", "name", "language", "is_operator", "organisations"]
        read_only_fields = ["id", "email"]


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
