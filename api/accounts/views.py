import math

from django.contrib import admin
from django.http import HttpResponse
from django.utils.translation import gettext as _
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import generics, serializers, status
from rest_framework.authtoken.models import Token
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from api.accounts.serializers import (
    MeSerializer,
    RegisterSerializer,
    TokenRequestSerializer,
    UserSerializer,
)
from api.throttles import LOGIN_THROTTLES, RegistrationThrottle

TokenResponse = inline_serializer("TokenResponse", {"token": serializers.CharField()})


class RegisterView(APIView):
    permission_classes = [AllowAny]
    throttle_classes = [RegistrationThrottle]

    @extend_schema(
        request=RegisterSerializer,
        responses={
            201: inline_serializer(
                "Registration", {"token": serializers.CharField(), "user": UserSerializer()}
            )
        },
    )
    def post(self, request):
        serializer = RegisterSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        user = serializer.save()
        token = Token.objects.create(user=user)
        body = {"token": token.key, "user": UserSerializer(user).data}
        return Response(body, status=status.HTTP_201_CREATED)


class TokenView(APIView):
    permission_classes = [AllowAny]
    throttle_classes = LOGIN_THROTTLES

    @extend_schema(request=TokenRequestSerializer, responses={200: TokenResponse})
    def post(self, request):
        serializer = TokenRequestSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        token, _ = Token.objects.get_or_create(user=serializer.validated_data["user"])
        return Response({"token": token.key})


class MeView(generics.RetrieveUpdateAPIView):
    serializer_class = MeSerializer
    http_method_names = ["get", "patch", "head", "options"]

    def get_object(self):
        return self.request.user


class CalendarTokenView(APIView):
    """Rotate the secret of the personal calendar feed; the answer is the feed's new URL."""

    @extend_schema(
        request=None,
        responses={200: inline_serializer("CalendarFeed", {"url": serializers.URLField()})},
    )
    def post(self, request):
        secret = request.user.rotate_calendar_token()
        return Response({"url": request.build_absolute_uri(f"/api/v1/calendar/{secret}.ics")})


def admin_login(request, extra_context=None):
    """The admin's login page, behind the same log-in limits as the API's."""
    if request.method == "POST":
        for throttle in (throttle_class() for throttle_class in LOGIN_THROTTLES):
            if not throttle.allow_request(request, None):
                response = HttpResponse(
                    _("Too many attempts to log in. Try again later."),
                    status=429,
                    content_type="text/plain; charset=utf-8",
                )
                response["Retry-After"] = str(math.ceil(throttle.wait()))
                return response
    return admin.site.login(request, extra_context)
