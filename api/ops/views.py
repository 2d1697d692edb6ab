"""Health endpoints for load balancers and orchestrators, and the metrics for Prometheus."""

import hmac

from django.conf import settings
from django.http import HttpResponse, JsonResponse
from django.views.decorators.http import require_GET
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest

from api import metrics as process_metrics
from api.ops import probes
from api.ops.metrics import StateCollector

STATE = CollectorRegistry(auto_describe=False)
STATE.register(StateCollector())

PROBES = {
    "database": probes.check_database,
    "redis": probes.check_redis,
    "mqtt": probes.check_mqtt,
}


@require_GET
def healthz(request):
    """The process is alive; says nothing about what it depends on."""
    return JsonResponse({"status": "ok"})


@require_GET
def readyz(request):
    """Ready when the database, Redis and the MQTT broker all answer; 503 names the failing part."""
    failures = {name: probe() for name, probe in PROBES.items()}
    body = {name: failure or "ok" for name, failure in failures.items()}
    ready = not any(failures.values())
    return JsonResponse(
        {"status": "ok" if ready else "unavailable", **body}, status=200 if ready else 503
    )


@require_GET
def metrics(request):
    """The api's own metrics (HTTP, from all its processes) and the state of the whole system.

    With METRICS_TOKEN set, only a request with `Authorization: Bearer <token>` gets them.
    """
    if settings.METRICS_TOKEN:
        given = request.headers.get("Authorization", "").removeprefix("Bearer ")
        if not hmac.compare_digest(given.encode(), settings.METRICS_TOKEN.encode()):
            response = JsonResponse({"detail": "A bearer token is required."}, status=401)
            response["WWW-Authenticate"] = "Bearer"
            return response
    body = generate_latest(process_metrics.registry()) + generate_latest(STATE)
    return HttpResponse(body, content_type=CONTENT_TYPE_LATEST)
