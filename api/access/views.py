from django.db import IntegrityError
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import extend_schema
from rest_framework import generics, mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import APIException, ErrorDetail, ValidationError
from rest_framework.response import Response

from api.access import alerts, services
from api.access.broker import BrokerError
from api.access.models import Lock
from api.access.serializers import (
    AlertSerializer,
    EnrolmentSerializer,
    LockCommandSerializer,
    LockSerializer,
    PasswordSerializer,
)
from api.organisations.choices import Role
from api.permissions import OperatorRole, ScopedQueryset
from devices.mqtt import NotPublished


class BrokerUnavailable(APIException):
    status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    default_detail = "The lock broker did not answer; nothing was changed. Try again."
    default_code = "broker_unavailable"


def _on_the_broker(change):
    """Run a change that the broker must take too; 503 (and nothing changed) if it cannot."""
    try:
        return change()
    except (BrokerError, NotPublished, ConnectionError) as error:
        raise BrokerUnavailable() from error


class LockViewSet(
    ScopedQueryset,
    mixins.CreateModelMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.DestroyModelMixin,
    viewsets.GenericViewSet,
):
    queryset = Lock.objects.all()
    permission_classes = [OperatorRole]
    roles = {"unlock": Role.MANAGER}
    lookup_value_regex = "[A-Za-z0-9_-]{1,64}"
    filterset_fields = ["space"]

    def get_serializer_class(self):
        if self.action == "create":
            return EnrolmentSerializer
        if self.action in ("unlock", "commands"):
            return LockCommandSerializer
        if self.action == "rotate_password":
            return PasswordSerializer
        return LockSerializer

    def perform_create(self, serializer):
        try:
            _on_the_broker(serializer.save)
        except IntegrityError:
            # Two enrolments of one id or one space raced; the other won.
            message = _("This lock or its space is enrolled already.")
            raise ValidationError({"id": [ErrorDetail(message, code="unique")]}) from None

    def perform_destroy(self, instance):
        """The lock and its grants go; its broker account too, at once."""
        _on_the_broker(lambda: services.remove_lock(instance))

    @extend_schema(request=None, responses={200: PasswordSerializer})
    @action(detail=True, methods=["post"], url_path="rotate-password")
    def rotate_password(self, request, pk=None):
        lock = self.get_object()
        password = _on_the_broker(lambda: services.rotate_password(lock))
        body = {"id": lock.id, "mqtt_username": lock.id, "mqtt_password": password}
        return Response(PasswordSerializer(body).data)

    @extend_schema(request=None, responses={202: LockCommandSerializer})
    @action(detail=True, methods=["post"])
    def unlock(self, request, pk=None):
        command = services.unlock_once(self.get_object(), request.user)
        return Response(LockCommandSerializer(command).data, status=status.HTTP_202_ACCEPTED)

    @extend_schema(responses=LockCommandSerializer(many=True))
    @action(detail=True, methods=["get"])
    def commands(self, request, pk=None):
        """The lock's recent commands and their acknowledgements."""
        commands = self.get_object().commands.all()
        page = self.paginate_queryset(commands)
        return self.get_paginated_response(LockCommandSerializer(page, many=True).data)


class AlertsView(generics.ListAPIView):
    """What needs a person now: offline locks, unconfirmed grants and revocations, and more."""

    serializer_class = AlertSerializer
    permission_classes = [OperatorRole]
    filter_backends = []

    def get_queryset(self):
        # A list of dicts from every alert source; the default paginator pages it.
        return alerts.visible(alerts.collect(timezone.now()), self.request.user)
