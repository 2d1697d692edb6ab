"""Health endpoints for load balancers and orchestrators."""

from django.http import JsonResponse
from django.views.decorators.http import require_GET

from api.ops import probes

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
