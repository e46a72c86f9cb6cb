"""Prometheus metrics of the outcomes sink (SPEC §9). No labels that grow with traffic."""

from prometheus_client import Counter, Histogram

# 1 ms .. 10 s: an embedded pipeline stores in milliseconds, a backlog in seconds.
LATENCY_BUCKETS_S = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)

OUTCOMES_STORED = Counter("helios_outcomes_stored_total", "Auction outcomes inserted into the database")
OUTCOMES_DUPLICATES = Counter(
    "helios_outcomes_duplicates_total", "Re-delivered auction outcomes that were already stored (not inserted again)"
)
BATCH_DURATION = Histogram(
    "helios_outcome_batch_duration_seconds",
    "Time to write one batch of outcomes (one transaction), successful attempts only",
    buckets=LATENCY_BUCKETS_S,
)
PIPELINE_LATENCY = Histogram(
    "helios_pipeline_latency_seconds",
    "End-to-end latency: bid request received -> its outcome committed to the database",
    buckets=LATENCY_BUCKETS_S,
)
WRITE_RETRIES = Counter(
    "helios_outcomes_write_retries_total", "Batch writes that failed on a database error and will be retried"
)
