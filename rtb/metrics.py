"""`/openrtb2/bid`'s Prometheus metrics (SPEC §9, §12, §16). Labels are low-cardinality: an HTTP
status, an OpenRTB nbr code, a campaign id, a privacy state."""

import functools
from typing import Any

from prometheus_client import Counter, Histogram

RTB_REQUESTS = Counter("helios_rtb_requests_total", "POST /openrtb2/bid requests by answer", ["status"])
RTB_DURATION = Histogram(
    "helios_rtb_request_duration_seconds",
    "POST /openrtb2/bid: time from the request's arrival to its answer",
    buckets=(0.001, 0.002, 0.003, 0.005, 0.0075, 0.01, 0.015, 0.02, 0.03, 0.05, 0.075, 0.1, 0.2, 0.5),
)
RTB_LATE = Counter("helios_rtb_late_answers_total", "POST /openrtb2/bid answers that left after their deadline")
RTB_BIDS = Counter("helios_rtb_bids_total", "Impressions bid on, by campaign id", ["campaign"])
RTB_NO_BIDS = Counter("helios_rtb_no_bids_total", "Impressions not bid on, by OpenRTB nbr code", ["nbr"])
RTB_PRIVACY = Counter("helios_rtb_privacy_total", "RTB requests by privacy state (SPEC §16)", ["state"])
RTB_PROFILES = Counter(
    "helios_rtb_profile_lookups_total",
    "RTB requests by profile lookup result: found, not_found, late (not in time), unavailable/skipped/error "
    "(the profile service failed, or its circuit breaker is open), no_user, restricted",
    ["result"],
)
RTB_UNACKED = Counter(
    "helios_rtb_unacknowledged_total",
    "Bids answered 204 because Kafka did not acknowledge their events in time (timeout) or took none (queue_full)",
    ["reason"],
)


@functools.cache
def child(metric: Counter, label: str) -> Any:
    """`metric.labels(label)`, looked up once: `labels()` costs a lock and a tuple build per call."""
    return metric.labels(label)
