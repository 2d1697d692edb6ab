"""The metrics registry of this process (or, in multiprocess mode, of its container).

prometheus_client keeps each process's metrics in memory, unless PROMETHEUS_MULTIPROC_DIR names
a directory, read when prometheus_client is first imported: then every process writes its own
files there and `registry()` adds them up. The api (several gunicorn processes) and a worker
(a pool of forked processes) need it to report all their processes; docker-compose.yml gives
each container a directory of its own, emptied at every start. The worker, beat and the gateway
serve their registry on METRICS_PORT (`serve()`); the api serves it at /metrics with the state
of the whole system beside it (api/ops/metrics.py).
"""

import os

from prometheus_client import REGISTRY, CollectorRegistry, start_http_server
from prometheus_client.multiprocess import MultiProcessCollector


def registry() -> CollectorRegistry:
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        combined = CollectorRegistry()
        MultiProcessCollector(combined)
        return combined
    return REGISTRY


def serve(port: int) -> None:
    """Serve this process's metrics on `port`, in a thread, if a port is configured."""
    if port:
        start_http_server(port, registry=registry())
