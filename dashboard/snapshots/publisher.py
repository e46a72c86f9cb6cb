"""The live publisher, inside the outcomes role: batch listener + one snapshot per interval.

The outcomes role starts it through HELIOS_OUTCOME_LISTENERS (`start_publisher`); outcomes never
imports the dashboard.
"""

import logging
import os
import socket
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.conf import settings
from django.db import close_old_connections, connection
from prometheus_client import Counter

from dashboard.snapshots.campaigns import CampaignPanels
from dashboard.snapshots.rtb import CampaignNames, RtbSamples
from dashboard.snapshots.shape import (
    BATCHES_MAX,
    DASHBOARD_GROUP,
    LATENCY_SAMPLES_MAX,
    PRICE_BUCKET_LABELS,
    RATE_HORIZON_S,
    RECENT_LIMIT,
    CampaignPacing,
    Snapshot,
    Totals,
    Window,
    price_bucket,
    recent_outcome,
    rolling,
    to_message,
    totals_from_database,
)
from outcomes.rows import OutcomeRow
from outcomes.services import outcome_batch_listener_add

logger = logging.getLogger(__name__)

SNAPSHOTS = Counter("helios_dashboard_snapshots_total", "Stats snapshots published to the live dashboard")


class SnapshotPublisher:
    """Accumulates committed batches (`add`, the batch listener) and publishes snapshots (`tick`).

    `add` runs in the outcomes writer's thread: arithmetic under a lock, no I/O. `tick` runs in
    the publisher's thread: it reads the totals from the database and calls `send` (blocking).
    `clock` is wall-clock time (latency = now - the request's received_at).
    """

    def __init__(
        self,
        *,
        send: Callable[[dict[str, Any]], object],
        totals: Callable[[], Totals] = totals_from_database,
        heartbeat_s: float = 5.0,
        horizon_s: float = RATE_HORIZON_S,
        clock: Callable[[], float] = time.time,
        source: str | None = None,
        campaign_names: Callable[[Iterable[int]], Mapping[int, str]] | None = None,
        campaigns: Callable[[float], list[CampaignPacing] | None] | None = None,
    ) -> None:
        self.send = send
        self.totals = totals
        self.heartbeat_s = heartbeat_s
        self.horizon_s = horizon_s
        self.clock = clock
        self.source = source or f"{socket.gethostname()}:{os.getpid()}"
        self._lock = threading.Lock()
        self._window = Window(start=clock())
        self._batches: deque[tuple[float, int]] = deque(maxlen=BATCHES_MAX)  # (stored at, count)
        self._latencies: deque[tuple[float, float]] = deque(maxlen=LATENCY_SAMPLES_MAX)  # (stored at, s)
        self._recent: deque[OutcomeRow] = deque(maxlen=RECENT_LIMIT)
        self._last_sent_at: float | None = None
        self._last_rolling_count = 0
        self._last_totals: Totals | None = None
        self.published = 0
        self._rtb = RtbSamples()
        self.campaign_names = campaign_names or CampaignNames()
        self.campaigns = campaigns or CampaignPanels()

    def add(self, rows: Sequence[OutcomeRow]) -> None:
        """The batch listener: folds newly stored rows into the window. Cheap, no I/O."""
        if not rows:
            return
        now = self.clock()
        samples = [(now, max(now - row.timestamp.timestamp(), 0.0)) for row in rows]
        with self._lock:
            window = self._window
            for row in rows:
                window.count += 1
                if row.win_status:
                    window.wins += 1
                    window.revenue += float(row.win_price)
                window.histogram[price_bucket(float(row.bid_price))] += 1
            self._batches.append((now, len(rows)))
            self._latencies.extend(samples)
            self._recent.extend(rows[-RECENT_LIMIT:])
        self._rtb.add(rows, now)

    def tick(self) -> dict[str, Any] | None:
        """Publishes one snapshot if something changed (or the heartbeat is due); returns it."""
        now = self.clock()
        with self._lock:
            cutoff = now - self.horizon_s
            while self._batches and self._batches[0][0] < cutoff:
                self._batches.popleft()
            while self._latencies and self._latencies[0][0] < cutoff:
                self._latencies.popleft()
            rolling_count = sum(count for _, count in self._batches)
            changed = self._window.count > 0 or rolling_count != self._last_rolling_count
            heartbeat = self.heartbeat_s > 0 and (
                self._last_sent_at is None or now - self._last_sent_at >= self.heartbeat_s
            )
            if not (changed or heartbeat):
                return None
            window, self._window = self._window, Window(start=now)
            latencies = [latency for _, latency in self._latencies]
            recent = [recent_outcome(row) for row in reversed(self._recent)]
            self._last_rolling_count = rolling_count
            self._last_sent_at = now
        snapshot = to_message(
            Snapshot(
                kind="live",
                source=self.source,
                at=now,
                totals=self._read_totals(),
                rolling=rolling(rolling_count, latencies, self.horizon_s),
                window=window.figures(end=now),
                recent=recent,
                price_buckets=list(PRICE_BUCKET_LABELS),
                rtb=self._rtb.panel(now, self.campaign_names),
                campaigns=self._read_campaigns(now),
            )
        )
        self.send(snapshot)
        self.published += 1
        SNAPSHOTS.inc()
        return snapshot

    def _read_totals(self) -> Totals | None:
        """The totals, or the last ones read when the database cannot answer right now."""
        try:
            self._last_totals = self.totals()
        except Exception as exc:  # noqa: BLE001 - the database's trouble is the sink's to report
            logger.warning("dashboard snapshot: totals unavailable, sending the last ones: %s", exc)
        return self._last_totals

    def _read_campaigns(self, now: float) -> list[CampaignPacing] | None:
        try:
            return self.campaigns(now)
        except Exception as exc:  # noqa: BLE001 - the other panels still go out
            logger.warning("dashboard snapshot: campaign panel unavailable: %s", exc)
            return None

    def run(self, stop: threading.Event, interval_s: float) -> None:
        """Ticks until `stop` is set, waiting `interval_s` after each tick: two snapshots are
        never closer than that, however long a tick takes."""
        failing = False
        while not stop.wait(interval_s):
            try:
                self.tick()
            except Exception:
                if not failing:  # once per failure streak, not twice a second
                    logger.exception("dashboard snapshot failed; retrying every %.2f s", interval_s)
                failing = True
            else:
                if failing:
                    logger.info("dashboard snapshots are published again")
                failing = False


def channel_layer_sender(group: str = DASHBOARD_GROUP) -> Callable[[dict[str, Any]], object]:
    """Sends a snapshot to the group on the project's channel layer (blocking)."""
    layer = get_channel_layer()
    if layer is None:
        raise RuntimeError("no channel layer is configured (CHANNEL_LAYERS)")
    group_send = async_to_sync(layer.group_send)

    def send(snapshot: dict[str, Any]) -> None:
        group_send(group, snapshot)

    return send


def _totals_in_thread() -> Totals:
    close_old_connections()
    return totals_from_database()


def start_publisher(
    *,
    interval_s: float | None = None,
    heartbeat_s: float | None = None,
    send: Callable[[dict[str, Any]], object] | None = None,
) -> Callable[[], None]:
    """Starts publishing snapshots of the batches this process stores; returns the stop function
    (for RoleContext.closers, idempotent): it removes the listener and joins the thread."""
    interval_s = settings.HELIOS_DASHBOARD_SNAPSHOT_S if interval_s is None else interval_s
    heartbeat_s = settings.HELIOS_DASHBOARD_HEARTBEAT_S if heartbeat_s is None else heartbeat_s
    if interval_s <= 0:
        logger.info("dashboard snapshots are off (HELIOS_DASHBOARD_SNAPSHOT_S=0)")
        return lambda: None
    publisher = SnapshotPublisher(
        send=send or channel_layer_sender(), totals=_totals_in_thread, heartbeat_s=heartbeat_s
    )
    remove = outcome_batch_listener_add(listener=publisher.add)
    stop = threading.Event()

    def run() -> None:
        try:
            publisher.run(stop, interval_s)
        finally:
            connection.close()

    thread = threading.Thread(target=run, name="dashboard-snapshots", daemon=True)
    thread.start()
    logger.info("dashboard snapshots every %.2f s to channel-layer group %r", interval_s, DASHBOARD_GROUP)

    def close() -> None:
        if stop.is_set():  # idempotent: a role may run its closers more than once
            return
        stop.set()
        remove()
        thread.join(timeout=5)

    return close
