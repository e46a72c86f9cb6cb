"""Live dashboard snapshots (SPEC §8, ARCHITECTURE §4): what the outcomes role pushes to the page.

The outcomes role starts `start_publisher` (named in HELIOS_OUTCOME_LISTENERS; outcomes never
imports the dashboard). It registers a batch listener that only folds each committed batch of rows
into an in-memory window (counts, wins, revenue, price histogram, latency samples, newest
outcomes), and a background thread that at most once every HELIOS_DASHBOARD_SNAPSHOT_S publishes
ONE snapshot to the channel-layer group `DASHBOARD_GROUP`, whatever the bid rate. A snapshot is
published only when something changed (new outcomes, or the rolling figures still decaying after
the last ones), plus a heartbeat every HELIOS_DASHBOARD_HEARTBEAT_S.

The dashboard's websocket consumer joins that group and sends `snapshot_from_database()` (same
shape, read through the outcomes selectors) on connect. The shape is `shape.Snapshot`; the page's
script reads only its fields (checked by tests/browser/test_snapshot_contract.py).
"""

from dashboard.snapshots.initial import snapshot_from_database
from dashboard.snapshots.publisher import SNAPSHOTS, SnapshotPublisher, channel_layer_sender, start_publisher
from dashboard.snapshots.shape import (
    DASHBOARD_GROUP,
    PRICE_BUCKET_LABELS,
    PRICE_EDGES,
    RATE_HORIZON_S,
    RECENT_LIMIT,
    SERIES_BIN_S,
    SERIES_BINS,
    SNAPSHOT_EVENT,
    Rolling,
    SeriesBin,
    Snapshot,
    Totals,
    Window,
    WindowFigures,
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
    "Rolling",
    "SeriesBin",
    "Snapshot",
    "SnapshotPublisher",
    "Totals",
    "Window",
    "WindowFigures",
    "channel_layer_sender",
    "percentile",
    "price_bucket",
    "snapshot_from_database",
    "start_publisher",
    "totals_from_database",
]
