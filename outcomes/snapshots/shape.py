"""The snapshot's shape and arithmetic, shared by the publisher and the initial snapshot."""

import bisect
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from outcomes.selectors import outcome_stats

DASHBOARD_GROUP = "dashboard"
SNAPSHOT_EVENT = "dashboard.snapshot"

RATE_HORIZON_S = 5.0  # bids/s and latency percentiles are over this last stretch
SERIES_BIN_S = 5  # the charts' time bins...
SERIES_BINS = 60  # ...over the last 5 minutes
RECENT_LIMIT = 20
LATENCY_SAMPLES_MAX = 20_000  # newest samples kept for the percentiles (~4 s at 5,000 outcomes/s)
BATCHES_MAX = 10_000

# Bid price histogram: "no bid" (price 0), then the bucket each edge opens (USD). The default
# tiers (0.35, 0.60, 0.85, 1.20) each fall into a bucket of their own.
PRICE_EDGES = (0.25, 0.50, 0.75, 1.00, 1.25, 1.50)
PRICE_BUCKET_LABELS = (
    "no bid",
    "< 0.25",
    "0.25-0.50",
    "0.50-0.75",
    "0.75-1.00",
    "1.00-1.25",
    "1.25-1.50",
    "≥ 1.50",
)


def price_bucket(price: float) -> int:
    """The PRICE_BUCKET_LABELS index of a bid price."""
    if price <= 0:
        return 0
    return 1 + bisect.bisect_right(PRICE_EDGES, price)


def percentile(ordered: Sequence[float], fraction: float) -> float | None:
    """Nearest-rank percentile of an ascending sequence; None when empty."""
    if not ordered:
        return None
    rank = min(max(math.ceil(fraction * len(ordered)), 1), len(ordered))
    return ordered[rank - 1]


def money(value: Decimal | float) -> float:
    return round(float(value), 4)


def totals_from_database() -> dict[str, Any]:
    """All-time totals from the daily rollups (a few hundred rows whatever the outcome count)."""
    stats = outcome_stats()
    return {
        "total_outcomes": stats.total_outcomes,
        "total_wins": stats.total_wins,
        "total_losses": stats.total_losses,
        "win_rate": float(stats.win_rate),
        "total_revenue": money(stats.total_revenue),
        "average_bid_price": money(stats.average_bid_price),
        "average_win_price": money(stats.average_win_price),
        "enriched_count": stats.enriched_count,
    }


def rolling(count: int, latencies: Sequence[float], horizon_s: float) -> dict[str, Any]:
    ordered = sorted(latencies)
    return {
        "horizon_s": horizon_s,
        "outcomes": count,
        "per_second": round(count / horizon_s, 2),
        "latency_p50_s": percentile(ordered, 0.50),
        "latency_p99_s": percentile(ordered, 0.99),
    }


@dataclass
class Window:
    """Outcomes stored from `start` on: since the previous snapshot, or in one series bin."""

    start: float
    count: int = 0
    wins: int = 0
    revenue: float = 0.0
    histogram: list[int] = field(default_factory=lambda: [0] * len(PRICE_BUCKET_LABELS))
