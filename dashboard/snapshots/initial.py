"""The initial snapshot, read from the database: what the dashboard's consumer sends on connect."""

import time
from datetime import UTC, datetime
from typing import Any

from dashboard.snapshots.campaigns import CampaignPanels
from dashboard.snapshots.rtb import CampaignNames, rtb_panel
from dashboard.snapshots.shape import (
    PRICE_BUCKET_LABELS,
    PRICE_EDGES,
    RATE_HORIZON_S,
    RECENT_LIMIT,
    RTB_HORIZON_S,
    RTB_SAMPLES_MAX,
    SERIES_BIN_S,
    SERIES_BINS,
    SeriesBin,
    Snapshot,
    recent_outcome,
    rolling,
    to_message,
    totals_from_database,
)
from outcomes.recent import outcome_latest, outcome_rtb_recent, outcome_series, outcome_store_latencies


def snapshot_from_database(*, now: float | None = None) -> dict[str, Any]:
    """The initial snapshot (kind "initial"), in the live snapshots' shape, read from the database:
    totals from the rollups, the series of the last SERIES_BINS bins and the rolling figures from
    the rows' insert times, the newest outcomes, the RTB panel over the last RTB_HORIZON_S. Blocking: call it from a thread (the consumer
    uses database_sync_to_async)."""
    now = time.time() if now is None else now
    first = (int(now) // SERIES_BIN_S - SERIES_BINS + 1) * SERIES_BIN_S
    series = outcome_series(first=first, bin_s=SERIES_BIN_S, bins=SERIES_BINS, price_edges=PRICE_EDGES)
    latencies = outcome_store_latencies(since=datetime.fromtimestamp(now - RATE_HORIZON_S, UTC))
    snapshot = Snapshot(
        kind="initial",
        source="database",
        at=now,
        totals=totals_from_database(),
        rolling=rolling(len(latencies), latencies, RATE_HORIZON_S),
        series=[SeriesBin(t=b.start, count=b.count, wins=b.wins, histogram=b.histogram) for b in series],
        recent=[recent_outcome(row) for row in outcome_latest(limit=RECENT_LIMIT)],
        price_buckets=list(PRICE_BUCKET_LABELS),
        rtb=rtb_panel(
            outcome_rtb_recent(since=datetime.fromtimestamp(now - RTB_HORIZON_S, UTC), limit=RTB_SAMPLES_MAX),
            CampaignNames(),
        ),
        campaigns=CampaignPanels(keep_history=False)(now),
    )
    return to_message(snapshot)
