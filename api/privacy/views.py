from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.response import Response
from rest_framework.views import APIView

from api.accounts import views as accounts
from api.privacy import services


class MeView(accounts.MeView):
    """The person's account; DELETE erases it (future bookings cancelled, past ones kept
    without the person)."""

    http_method_names = [*accounts.MeView.http_method_names, "delete"]

    @extend_schema(responses={204: None})
    def delete(self, request):
        services.erase(request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)


class ExportView(APIView):
    """Everything stored about the person, as JSON."""

    @extend_schema(responses={200: OpenApiTypes.OBJECT})
    def get(self, request):
        return Response(services.export(request.user))
