"""Live dashboard snapshots (SPEC §8, ARCHITECTURE §4): what the outcomes role pushes to the page.

The outcomes role registers a batch listener that only folds each committed batch into an
in-memory window (counts, wins, revenue, price histogram, latency samples, newest outcomes), and a
background thread that at most once every HELIOS_DASHBOARD_SNAPSHOT_S publishes ONE snapshot to
the channel-layer group `DASHBOARD_GROUP`, whatever the bid rate. A snapshot is published only
when something changed (new outcomes, or the rolling figures still decaying after the last ones),
plus a heartbeat every HELIOS_DASHBOARD_HEARTBEAT_S.

`outcomes` never imports `dashboard`: the dashboard's websocket consumer joins the group named
here and sends `snapshot_from_database()` (same shape, read from the database) on connect.

Snapshot (plain JSON types, so any channel layer can carry it):

    type      "dashboard.snapshot" (the consumer method that forwards it)
    kind      "live" (publisher) | "initial" (database, on connect)
    source    "<host>:<pid>" of the publishing outcomes process | "database"
    at        epoch seconds when it was made
    totals    all-time figures from the rollups (outcome_stats): total_outcomes, total_wins,
              total_losses, win_rate (percent), total_revenue, average_bid_price,
              average_win_price, enriched_count
    rolling   over the last RATE_HORIZON_S: horizon_s, outcomes, per_second, latency_p50_s,
              latency_p99_s (request received -> stored; null without samples)
    window    live only, what this source stored since its previous snapshot: start, end, count,
              wins, revenue, histogram (counts per PRICE_BUCKET_LABELS)
    series    initial only: SERIES_BINS bins of SERIES_BIN_S, oldest first: t (bin start), count,
              wins, histogram; the page adds each live `window` to the bin of its `end`
    recent    newest outcomes first (at most RECENT_LIMIT): bid_id, imp_id, user_id, site_domain,
              win_status, win_price, bid_price, timestamp
    price_buckets   the histogram's labels

Several outcomes processes each publish their own windows (their rolling figures add up); the
page keeps the latest snapshot per source.
"""

from outcomes.snapshots.initial import snapshot_from_database
from outcomes.snapshots.publisher import SNAPSHOTS, SnapshotPublisher, channel_layer_sender, start_publisher
from outcomes.snapshots.shape import (
    DASHBOARD_GROUP,
    PRICE_BUCKET_LABELS,
    PRICE_EDGES,
    RATE_HORIZON_S,
    RECENT_LIMIT,
    SERIES_BIN_S,
    SERIES_BINS,
    SNAPSHOT_EVENT,
    Window,
    percentile,
    price_bucket,
    totals_from_database,
)

__all__ = [
    "DASHBOARD_GROUP",
    "PRICE_BUCKET_LABELS",
    "PRICE_EDGES",
    "RATE_HORIZON_S",
    "RECENT_LIMIT",
    "SERIES_BINS",
    "SERIES_BIN_S",
    "SNAPSHOTS",
    "SNAPSHOT_EVENT",
    "SnapshotPublisher",
    "Window",
    "channel_layer_sender",
    "percentile",
    "price_bucket",
    "snapshot_from_database",
    "start_publisher",
    "totals_from_database",
]
