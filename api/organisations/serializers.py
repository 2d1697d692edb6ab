from django.contrib.auth import get_user_model
from rest_framework import serializers

from api.fields import ModelSerializer
from api.organisations.models import Membership, Organisation


class OrganisationSerializer(ModelSerializer):
    class Meta:
        model = Organisation
        fields = ["id", "name", "kind"]


class MembershipSerializer(ModelSerializer):
    """A member, by the email of an existing account; only the role changes afterwards."""

    email = serializers.EmailField(source="user.email")

    class Meta:
        model = Membership
        fields = ["id", "email", "role"]

    def validate_email(self, value):
        user = get_user_model().objects.filter(email=value.lower(), is_active=True).first()
        if user is None:
            raise serializers.ValidationError("No account has this email; ask them to register.")
        organisation = self.context["organisation"]
        if organisation.memberships.filter(user=user).exists():
            raise serializers.ValidationError("This person is a member already.")
        return user

    def create(self, validated_data):
        user = validated_data.pop("user")["email"]
        return Membership.objects.create(
            organisation=self.context["organisation"], user=user, **validated_data
        )


class RoleSerializer(MembershipSerializer):
    """A member's role changed (PATCH): who they are stays."""

    email = serializers.EmailField(source="user.email", read_only=True)


class MyOrganisationSerializer(serializers.Serializer):
    """The person's own organisations and roles, for GET /auth/me/."""

    id = serializers.IntegerField(source="organisation_id")
    role = serializers.CharField()
