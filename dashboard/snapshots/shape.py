"""The snapshot: its shape (msgspec Structs, the one definition the publisher, the initial read,
the page's script and its test follow) and the arithmetic both producers share.

On the channel layer and the websocket a snapshot is `msgspec.to_builtins(snapshot)`: plain JSON
types, `type` first (the consumer method that forwards it), fields left at their default omitted
(`window` in an initial snapshot, `series` in a live one).
"""

import bisect
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import msgspec

from outcomes.models import AuctionOutcome
from outcomes.rows import OutcomeRow
from outcomes.selectors import outcome_stats
from pipeline.messages import format_time, money

DASHBOARD_GROUP = "dashboard"
SNAPSHOT_EVENT = "dashboard.snapshot"

RATE_HORIZON_S = 5.0  # bids/s and latency percentiles are over this last stretch
SERIES_BIN_S = 5  # the charts' time bins...
SERIES_BINS = 60  # ...over the last 5 minutes
RECENT_LIMIT = 20
RTB_HORIZON_S = 60.0  # the RTB panel is over this last stretch
RTB_SAMPLES_MAX = 50_000  # newest RTB outcomes kept for it
LATENCY_SAMPLES_MAX = 20_000  # newest samples kept for the percentiles (~4 s at 5,000 outcomes/s)
BATCHES_MAX = 10_000
CAMPAIGNS_MAX = 12  # campaigns in the Campaigns panel (active, with a daily budget, oldest first)
PACING_POINTS = 240  # actual-spend samples kept per campaign for its pacing chart

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


class Totals(msgspec.Struct, kw_only=True):
    """All-time figures from the rollups (`outcome_stats`); `win_rate` in percent."""

    total_outcomes: int
    total_wins: int
    total_losses: int
    win_rate: float
    total_revenue: float
    average_bid_price: float
    average_win_price: float
    enriched_count: int


class Rolling(msgspec.Struct, kw_only=True):
    """Over the last `horizon_s`: outcomes stored, their rate, and the latency request received ->
    stored (None without samples)."""

    horizon_s: float
    outcomes: int
    per_second: float
    latency_p50_s: float | None
    latency_p99_s: float | None


class WindowFigures(msgspec.Struct, kw_only=True):
    """What one publisher stored since its previous snapshot; `histogram` per PRICE_BUCKET_LABELS."""

    start: float
    end: float
    count: int
    wins: int
    revenue: float
    histogram: list[int]


class SeriesBin(msgspec.Struct, kw_only=True):
    """One SERIES_BIN_S bin from `t` (epoch seconds); the page adds each live window to the bin of
    its `end`."""

    t: int
    count: int
    wins: int
    histogram: list[int]


class RecentOutcome(msgspec.Struct, kw_only=True):
    bid_id: str
    imp_id: str
    user_id: str | None
    site_domain: str | None
    win_status: bool
    win_price: float
    bid_price: float
    timestamp: str  # RFC 3339, the request's received_at


class NoBidCount(msgspec.Struct, kw_only=True):
    nbr: int  # the OpenRTB no-bid reason code
    reason: str  # its meaning, for the page
    count: int


class CampaignBids(msgspec.Struct, kw_only=True):
    campaign_id: int
    name: str  # the campaign's name ("campaign <id>" when it is gone)
    bids: int


class RtbPanel(msgspec.Struct, kw_only=True):
    """RTB decisions (`POST /openrtb2/bid`, SPEC §12) stored over the last `horizon_s`: the bid
    path's latency (received -> decided, ms; None without samples), answers decided after their
    deadline, no-bid reasons and bids per campaign (most first)."""

    horizon_s: float
    outcomes: int
    bids: int
    latency_p50_ms: float | None
    latency_p99_ms: float | None
    late: int
    no_bids: list[NoBidCount]
    campaigns: list[CampaignBids]


class PacingPoint(msgspec.Struct, kw_only=True):
    t: float  # epoch seconds
    spent: float  # USD spent today at `t`


class CampaignPacing(msgspec.Struct, kw_only=True):
    """One active campaign with a daily budget (outcomes.campaign_stats): the ledger's figures (None
    without a ledger), today's RTB wins from the stored outcomes, and the actual spend sampled over
    the ledger's day (`history`, oldest first). The target line runs from 0 at `day_started_at`
    to `daily_budget` at `day_started_at + day_s`."""

    campaign_id: int
    name: str
    daily_budget: float
    spend_today: float | None
    reserved: float | None
    pacing_target: float | None
    late_bills: int | None
    day_started_at: float
    day_s: float
    bids: int
    wins: int
    win_rate: float  # percent of bids
    average_clearing_cpm: float
    history: list[PacingPoint]


class Snapshot(msgspec.Struct, kw_only=True, omit_defaults=True, tag_field="type", tag=SNAPSHOT_EVENT):
    """One stats snapshot. `kind` "live": from an outcomes process (`source` "<host>:<pid>"), with
    its `window`; "initial": read from the database on connect (`source` "database"), with the
    `series`. Several outcomes processes each publish their own windows (their rolling figures add
    up); the page keeps the latest snapshot per source."""

    kind: Literal["live", "initial"]
    source: str
    at: float  # epoch seconds when it was made
    totals: Totals | None  # None only while the database has never answered this publisher
    rolling: Rolling
    window: WindowFigures | None = None  # live only
    series: list[SeriesBin] | None = None  # initial only: SERIES_BINS bins, oldest first
    recent: list[RecentOutcome]  # newest first, at most RECENT_LIMIT
    price_buckets: list[str]  # the histograms' labels
    rtb: RtbPanel | None = None  # the RTB decisions this publisher stored lately (None: not computed)
    campaigns: list[CampaignPacing] | None = None  # the Campaigns panel (None: not computed)


def to_message(snapshot: Snapshot) -> dict[str, Any]:
    """The snapshot as the channel layer carries it and the page receives it."""
    message: dict[str, Any] = msgspec.to_builtins(snapshot)
    return message


def recent_outcome(row: OutcomeRow | AuctionOutcome) -> RecentOutcome:
    """A stored outcome as the snapshot lists it: a row just stored, or one read back."""
    return RecentOutcome(
        bid_id=row.bid_id,
        imp_id=row.imp_id,
        user_id=row.user_id,
        site_domain=row.site_domain,
        win_status=row.win_status,
        win_price=money(row.win_price),
        bid_price=money(row.bid_price),
        timestamp=format_time(row.timestamp),
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


def totals_from_database() -> Totals:
    """All-time totals from the daily rollups (a few hundred rows whatever the outcome count)."""
    stats = outcome_stats()
    return Totals(
        total_outcomes=stats.total_outcomes,
        total_wins=stats.total_wins,
        total_losses=stats.total_losses,
        win_rate=float(stats.win_rate),
        total_revenue=money(stats.total_revenue),
        average_bid_price=money(stats.average_bid_price),
        average_win_price=money(stats.average_win_price),
        enriched_count=stats.enriched_count,
    )


def rolling(count: int, latencies: Sequence[float], horizon_s: float) -> Rolling:
    ordered = sorted(latencies)
    return Rolling(
        horizon_s=horizon_s,
        outcomes=count,
        per_second=round(count / horizon_s, 2),
        latency_p50_s=percentile(ordered, 0.50),
        latency_p99_s=percentile(ordered, 0.99),
    )


@dataclass
class Window:
    """What the publisher accumulates between two snapshots."""

    start: float
    count: int = 0
    wins: int = 0
    revenue: float = 0.0
    histogram: list[int] = field(default_factory=lambda: [0] * len(PRICE_BUCKET_LABELS))

    def figures(self, end: float) -> WindowFigures:
        return WindowFigures(
            start=self.start,
            end=end,
            count=self.count,
            wins=self.wins,
            revenue=money(self.revenue),
            histogram=self.histogram,
        )
