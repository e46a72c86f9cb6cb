"""The initial snapshot, read from the database: what the dashboard's consumer sends on connect."""

import time
from datetime import UTC, datetime
from typing import Any

from django.db.models import Case, Count, IntegerField, Q, Value, When
from django.db.models.functions import TruncSecond

from outcomes.models import AuctionOutcome
from outcomes.snapshots.shape import (
    PRICE_BUCKET_LABELS,
    PRICE_EDGES,
    RATE_HORIZON_S,
    RECENT_LIMIT,
    SERIES_BIN_S,
    SERIES_BINS,
    SNAPSHOT_EVENT,
    Window,
    money,
    rolling,
    totals_from_database,
)
from pipeline.messages import format_time


def _price_bucket_expression() -> Case:
    whens = [When(bid_price__lte=0, then=Value(0))]
    whens += [When(bid_price__lt=edge, then=Value(i + 1)) for i, edge in enumerate(PRICE_EDGES)]
    return Case(*whens, default=Value(len(PRICE_EDGES) + 1), output_field=IntegerField())


def _series_from_database(now: float) -> list[dict[str, Any]]:
    first = (int(now) // SERIES_BIN_S - SERIES_BINS + 1) * SERIES_BIN_S
    bins = [Window(start=first + i * SERIES_BIN_S) for i in range(SERIES_BINS)]
    since = datetime.fromtimestamp(first, UTC)
    # Grouped per second and price bucket in the database (at most 300 x 8 rows), binned here.
    grouped = (
        AuctionOutcome.objects.filter(created_at__gte=since)
        .annotate(second=TruncSecond("created_at", tzinfo=UTC), bucket=_price_bucket_expression())
        .values("second", "bucket")
        .order_by()
        .annotate(count=Count("pk"), wins=Count("pk", filter=Q(win_status=True)))
        .values_list("second", "bucket", "count", "wins")
    )
    for second, bucket, count, wins in grouped:
        index = (int(second.timestamp()) - first) // SERIES_BIN_S
        if 0 <= index < SERIES_BINS:
            target = bins[index]
            target.count += count
            target.wins += wins
            target.histogram[bucket] += count
    return [{"t": b.start, "count": b.count, "wins": b.wins, "histogram": b.histogram} for b in bins]


def snapshot_from_database(*, now: float | None = None) -> dict[str, Any]:
    """The initial snapshot (kind "initial"), in the live snapshots' shape, read from the database:
    totals from the rollups, the series of the last SERIES_BINS bins and the rolling figures from
    the rows' insert times (`created_at`, indexed), the newest outcomes. Blocking: call it from a
    thread (the consumer uses database_sync_to_async)."""
    now = time.time() if now is None else now
    horizon_start = datetime.fromtimestamp(now - RATE_HORIZON_S, UTC)
    latest = AuctionOutcome.objects.filter(created_at__gte=horizon_start).values_list("created_at", "timestamp")
    latencies = [max((created - received).total_seconds(), 0.0) for created, received in latest]
    recent = AuctionOutcome.objects.order_by("-created_at", "-id")[:RECENT_LIMIT]
    return {
        "type": SNAPSHOT_EVENT,
        "kind": "initial",
        "source": "database",
        "at": now,
        "totals": totals_from_database(),
        "rolling": rolling(len(latencies), latencies, RATE_HORIZON_S),
        "series": _series_from_database(now),
        "recent": [
            {
                "bid_id": row.bid_id,
                "imp_id": row.imp_id,
                "user_id": row.user_id,
                "site_domain": row.site_domain,
                "win_status": row.win_status,
                "win_price": money(row.win_price),
                "bid_price": money(row.bid_price),
                "timestamp": format_time(row.timestamp),
            }
            for row in recent
        ],
        "price_buckets": list(PRICE_BUCKET_LABELS),
    }
