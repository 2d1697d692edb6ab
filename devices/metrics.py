"""What the MQTT gateway counts (devices/gateway.py); its command serves them on METRICS_PORT."""

from prometheus_client import Counter, Gauge, Histogram

# outcome: recorded; or dropped: invalid (broke the protocol), impostor (a lock_id other than
# its topic's), not_enrolled (no such lock), topic (not a topic the gateway takes), refused (the
# database refused it, alone in its savepoint).
MESSAGES = Counter(
    "flexispace_gateway_messages",
    "Messages from the locks, by kind and by what the gateway did with them.",
    ["kind", "outcome"],
)
BATCH_SECONDS = Histogram(
    "flexispace_gateway_batch_duration_seconds",
    "How long the gateway took to record one batch of messages.",
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
INBOX = Gauge(
    "flexispace_gateway_inbox",
    "Messages the gateway has received from the broker and not yet recorded.",
    multiprocess_mode="livesum",
)
