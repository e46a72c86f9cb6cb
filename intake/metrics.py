"""The handler's Prometheus metrics; names kept from the original Helios (SPEC §9). Labels stay low
cardinality: `status` is an HTTP status code, `endpoint` one of a fixed set of paths."""

from prometheus_client import Counter, Gauge, Histogram

BID_REQUESTS = Counter("bid_requests_total", "POST /bid requests by answer", ["status"])
REQUEST_DURATION = Histogram(
    "request_processing_duration_seconds",
    "Time from request received to answer sent, by endpoint",
    ["endpoint"],
    buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
)
KAFKA_PUBLISH_ERRORS = Counter(
    "kafka_publish_errors_total", "Valid bid requests answered 503 because Kafka did not take them"
)
ACTIVE_REQUESTS = Gauge("active_requests", "POST /bid requests being processed")
KAFKA_REACHABLE = Gauge("helios_intake_kafka_reachable", "1 while the intake producer can reach the broker")

ENDPOINTS = frozenset({"/bid", "/healthz"})
LATE_ACKS = Counter(
    "helios_intake_late_acks_total", "Messages acknowledged by Kafka after their request was already answered 503"
)
OVERLOADED = Counter(
    "helios_handler_overloaded_total", "Requests to other endpoints than /bid answered 503 past the connection limit"
)
