"""Reads of the outcomes app for the live dashboard: what was stored lately, by insert time
(`created_at`, indexed). The dashboard passes its own bins and price buckets."""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from django.db.models import Case, Count, IntegerField, Q, Value, When
from django.db.models.functions import TruncSecond

from outcomes.models import AuctionOutcome
from outcomes.rtb import RTB_SOURCE


@dataclass
class OutcomeBin:
    """Outcomes stored in one time bin: counts, and a histogram of bid prices by bucket."""

    start: int  # epoch seconds
    count: int
    wins: int
    histogram: list[int]


def _price_bucket_expression(price_edges: Sequence[float]) -> Case:
    whens = [When(bid_price__lte=0, then=Value(0))]
    whens += [When(bid_price__lt=edge, then=Value(i + 1)) for i, edge in enumerate(price_edges)]
    return Case(*whens, default=Value(len(price_edges) + 1), output_field=IntegerField())


def outcome_series(*, first: int, bin_s: int, bins: int, price_edges: Sequence[float]) -> list[OutcomeBin]:
    """The outcomes stored in `bins` bins of `bin_s` seconds from epoch second `first`, oldest
    first. Histogram buckets: 0 for no bid (price 0), then `i + 1` for prices below
    `price_edges[i]` (ascending), the last for prices at or above the last edge."""
    series = [OutcomeBin(first + i * bin_s, 0, 0, [0] * (len(price_edges) + 2)) for i in range(bins)]
    # Grouped per second and price bucket in the database (at most bins x bin_s x buckets rows).
    grouped = (
        AuctionOutcome.objects.filter(created_at__gte=datetime.fromtimestamp(first, UTC))
        .annotate(second=TruncSecond("created_at", tzinfo=UTC), bucket=_price_bucket_expression(price_edges))
        .values("second", "bucket")
        .order_by()
        .annotate(count=Count("pk"), wins=Count("pk", filter=Q(win_status=True)))
        .values_list("second", "bucket", "count", "wins")
    )
    for second, bucket, count, wins in grouped:
        index = (int(second.timestamp()) - first) // bin_s
        if 0 <= index < bins:
            series[index].count += count
            series[index].wins += wins
            series[index].histogram[bucket] += count
    return series


def outcome_store_latencies(*, since: datetime) -> list[float]:
    """Seconds from request received (`timestamp`) to row stored (`created_at`), over the rows
    stored since `since`."""
    stored = AuctionOutcome.objects.filter(created_at__gte=since).values_list("created_at", "timestamp")
    return [max((created - received).total_seconds(), 0.0) for created, received in stored]


def outcome_latest(*, limit: int) -> list[AuctionOutcome]:
    """The `limit` outcomes stored last, newest first."""
    return list(AuctionOutcome.objects.order_by("-created_at", "-id")[:limit])


@dataclass(frozen=True)
class RtbSample:
    """One RTB outcome as the dashboard's panel needs it."""

    latency_ms: float | None
    deadline_ms: float | None
    nbr: int | None
    campaign_id: int | None
    bid: bool


def outcome_rtb_recent(*, since: datetime, limit: int) -> list[RtbSample]:
    """The RTB outcomes stored since `since` (insert time), at most the `limit` newest."""
    rows = (
        AuctionOutcome.objects.filter(source=RTB_SOURCE, created_at__gte=since)
        .order_by("-created_at")
        .values_list("latency_ms", "deadline_ms", "nbr", "campaign_id", "bid_price")[:limit]
    )
    return [
        RtbSample(latency_ms=latency, deadline_ms=deadline, nbr=nbr, campaign_id=campaign, bid=price > 0)
        for latency, deadline, nbr, campaign, price in rows
    ]
