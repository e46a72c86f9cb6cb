"""The snapshot publisher the outcomes role runs (dashboard/snapshots/): window math, rate limit,
silence when idle, and the initial snapshot read from the database."""

import ast
import itertools
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import msgspec
import pytest

from dashboard.snapshots import (
    PRICE_BUCKET_LABELS,
    RATE_HORIZON_S,
    RECENT_LIMIT,
    SERIES_BIN_S,
    SERIES_BINS,
    SNAPSHOT_EVENT,
    SnapshotPublisher,
    Totals,
    percentile,
    price_bucket,
    snapshot_from_database,
    start_publisher,
)
from outcomes.services import outcome_record_batch
from outcomes.tests.factories import outcome_message, outcome_messages, outcome_rows

T0 = 1_800_000_000.0  # a fixed "now" for the fake clock


class Clock:
    def __init__(self, now: float = T0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def received(clock: Clock, latency_s: float) -> datetime:
    return datetime.fromtimestamp(clock.now - latency_s, UTC)


def totals(total_outcomes: int) -> Totals:
    return Totals(
        total_outcomes=total_outcomes,
        total_wins=0,
        total_losses=total_outcomes,
        win_rate=0.0,
        total_revenue=0.0,
        average_bid_price=0.0,
        average_win_price=0.0,
        enriched_count=0,
    )


def publisher(clock: Clock, *, heartbeat_s: float = 0.0) -> tuple[SnapshotPublisher, list[dict]]:
    sent: list[dict] = []
    return SnapshotPublisher(
        send=sent.append, totals=lambda: totals(0), heartbeat_s=heartbeat_s, clock=clock, source="test:1"
    ), sent


def test_price_buckets_put_each_default_tier_in_a_bucket_of_its_own():
    assert price_bucket(0.0) == 0  # no bid
    assert price_bucket(0.10) == 1
    tiers = [price_bucket(p) for p in (0.35, 0.60, 0.85, 1.20)]
    assert len(set(tiers)) == 4
    assert [PRICE_BUCKET_LABELS[i] for i in tiers] == ["0.25-0.50", "0.50-0.75", "0.75-1.00", "1.00-1.25"]
    assert price_bucket(1.50) == price_bucket(99.0) == len(PRICE_BUCKET_LABELS) - 1


def test_percentile_is_nearest_rank():
    values = [float(v) for v in range(1, 101)]
    assert percentile(values, 0.50) == 50.0
    assert percentile(values, 0.99) == 99.0
    assert percentile([7.0], 0.99) == 7.0
    assert percentile([], 0.5) is None


def test_window_math_counts_wins_revenue_histogram_latency_and_newest_outcomes():
    clock = Clock()
    pub, sent = publisher(clock)
    # 10 wins at 0.85, 10 losses at 0.35, 5 no-bids; latencies 10 ms .. 250 ms
    batch = (
        [outcome_message(won=True, bid_price=0.85, received=received(clock, 0.01 * (i + 1))) for i in range(10)]
        + [outcome_message(won=False, bid_price=0.35, received=received(clock, 0.1 + 0.01 * i)) for i in range(10)]
        + [outcome_message(won=False, bid_price=0.0, received=received(clock, 0.2 + 0.01 * i)) for i in range(5)]
    )
    pub.add(outcome_rows(batch[:12]))
    pub.add(outcome_rows(batch[12:]))
    clock.now += 0.5
    snapshot = pub.tick()

    assert sent == [snapshot]
    assert snapshot is not None
    assert snapshot["type"] == SNAPSHOT_EVENT and snapshot["kind"] == "live" and snapshot["source"] == "test:1"
    window = snapshot["window"]
    assert (window["count"], window["wins"], window["revenue"]) == (25, 10, 8.5)
    assert window["end"] - window["start"] == pytest.approx(0.5)
    histogram = [0] * len(PRICE_BUCKET_LABELS)
    histogram[price_bucket(0.85)], histogram[price_bucket(0.35)], histogram[0] = 10, 10, 5
    assert window["histogram"] == histogram
    rolling = snapshot["rolling"]
    assert rolling["outcomes"] == 25
    assert rolling["per_second"] == round(25 / RATE_HORIZON_S, 2)
    # latency = when the batch was added - received_at: 0.01 .. 0.10, 0.10 .. 0.19, 0.20 .. 0.24 s;
    # nearest rank of 25 values: the 13th (0.12) and the 25th (0.24); received_at has ms precision
    assert rolling["latency_p50_s"] == pytest.approx(0.12, abs=1e-3)
    assert rolling["latency_p99_s"] == pytest.approx(0.24, abs=1e-3)
    assert [item["bid_id"] for item in snapshot["recent"]] == [o.bid_request_id for o in reversed(batch)][:RECENT_LIMIT]
    assert snapshot["totals"] == msgspec.to_builtins(totals(0))


def test_many_batches_between_ticks_give_one_snapshot_with_all_of_them():
    clock = Clock()
    pub, sent = publisher(clock)
    for _ in range(200):
        pub.add(outcome_rows(outcome_messages(5, received=received(clock, 0.05))))
        clock.now += 0.002
    pub.tick()
    assert len(sent) == 1
    assert sent[0]["window"]["count"] == 1000


def test_the_next_window_starts_empty():
    clock = Clock()
    pub, sent = publisher(clock)
    pub.add(outcome_rows(outcome_messages(3, received=received(clock, 0.05))))
    clock.now += 0.5
    pub.tick()
    pub.add(outcome_rows(outcome_messages(2, received=received(clock, 0.05))))
    clock.now += 0.5
    pub.tick()
    assert [s["window"]["count"] for s in sent] == [3, 2]
    assert sent[1]["window"]["start"] == sent[0]["window"]["end"]
    assert sent[1]["rolling"]["outcomes"] == 5  # both windows are inside the rolling horizon


def test_nothing_is_published_when_idle():
    clock = Clock()
    pub, sent = publisher(clock)
    for _ in range(20):
        clock.now += 0.5
        assert pub.tick() is None
    assert sent == []


def test_after_the_last_outcomes_it_publishes_until_the_rolling_figures_settle_then_stops():
    clock = Clock()
    pub, sent = publisher(clock)
    pub.add(outcome_rows(outcome_messages(10, received=received(clock, 0.05))))
    for _ in range(int(3 * RATE_HORIZON_S / 0.5)):
        clock.now += 0.5
        pub.tick()
    assert sent[0]["window"]["count"] == 10
    assert sent[-1]["rolling"]["outcomes"] == 0  # the page is told the rate fell to zero...
    assert sent[-1]["rolling"]["latency_p50_s"] is None
    assert len(sent) == 2  # ...and then nothing more: nothing changes


def test_heartbeat_while_idle():
    clock = Clock()
    pub, sent = publisher(clock, heartbeat_s=5.0)
    for _ in range(40):  # 20 s
        clock.now += 0.5
        pub.tick()
    assert len(sent) == 4
    assert all(s["window"]["count"] == 0 for s in sent)


def test_totals_that_cannot_be_read_are_the_last_ones_read():
    clock = Clock()
    answers: list[Totals | Exception] = [totals(1), RuntimeError("database down")]

    def read() -> Totals:
        answer = answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer

    sent: list[dict] = []
    pub = SnapshotPublisher(send=sent.append, totals=read, clock=clock, heartbeat_s=0)
    for _ in range(2):
        pub.add(outcome_rows(outcome_messages(1, received=received(clock, 0.01))))
        clock.now += 0.5
        pub.tick()
    assert [s["totals"]["total_outcomes"] for s in sent] == [1, 1]


@pytest.mark.django_db(transaction=True)
def test_running_publisher_sends_at_most_one_snapshot_per_interval_and_loses_no_outcome():
    """The real thing: batches stored through the sink's service reach the listener; the
    background thread publishes every `interval_s` at most, and the windows add up to the total."""
    interval_s = 0.1
    sent: list[tuple[float, dict]] = []
    stop = start_publisher(interval_s=interval_s, heartbeat_s=0, send=lambda s: sent.append((time.monotonic(), s)))
    try:
        stored = 0
        deadline = time.monotonic() + 1.5
        while time.monotonic() < deadline:
            stored += outcome_record_batch(rows=outcome_rows(outcome_messages(7, received=datetime.now(UTC))))
        time.sleep(3 * interval_s)  # the last window is published
    finally:
        stop()
    times = [at for at, _ in sent]
    assert 1 <= len(sent) <= 1.5 / interval_s + 4
    assert all(later - earlier >= interval_s * 0.9 for earlier, later in itertools.pairwise(times))
    assert sum(s["window"]["count"] for _, s in sent) == stored
    assert sent[-1][1]["totals"]["total_outcomes"] == stored  # from the rollups


@pytest.mark.django_db(transaction=True)
def test_stop_removes_the_listener_and_ends_the_thread():
    sent: list[dict] = []
    stop = start_publisher(interval_s=0.05, heartbeat_s=0, send=sent.append)
    stop()
    stop()  # a role may run its closers twice
    assert not [t for t in threading.enumerate() if t.name == "dashboard-snapshots"]
    outcome_record_batch(rows=outcome_rows(outcome_messages(3)))
    time.sleep(0.2)
    assert sent == []


@pytest.mark.django_db
def test_initial_snapshot_from_the_database_has_the_live_shape():
    now = datetime.now(UTC)
    outcome_record_batch(
        rows=outcome_rows(
            [outcome_message(won=True, bid_price=1.2, received=now - timedelta(milliseconds=30)) for _ in range(4)]
            + [outcome_message(won=False, bid_price=0.0, received=now - timedelta(milliseconds=30)) for _ in range(2)]
        )
    )
    snapshot = snapshot_from_database()
    assert snapshot["type"] == SNAPSHOT_EVENT and snapshot["kind"] == "initial"
    assert snapshot["totals"]["total_outcomes"] == 6
    assert snapshot["totals"]["total_wins"] == 4
    assert snapshot["totals"]["total_revenue"] == pytest.approx(4.8)
    assert snapshot["totals"]["win_rate"] == pytest.approx(66.67)
    assert snapshot["rolling"]["outcomes"] == 6
    assert snapshot["rolling"]["latency_p50_s"] == pytest.approx(0.03, abs=0.5)
    series = snapshot["series"]
    assert len(series) == SERIES_BINS
    assert all(b["t"] - a["t"] == SERIES_BIN_S for a, b in itertools.pairwise(series))
    assert sum(b["count"] for b in series) == 6
    assert sum(b["wins"] for b in series) == 4
    histogram = [sum(b["histogram"][i] for b in series) for i in range(len(PRICE_BUCKET_LABELS))]
    assert histogram[0] == 2 and histogram[price_bucket(1.2)] == 4
    assert len(snapshot["recent"]) == 6
    assert set(snapshot["recent"][0]) == {
        "bid_id",
        "imp_id",
        "user_id",
        "site_domain",
        "win_status",
        "win_price",
        "bid_price",
        "timestamp",
    }


@pytest.mark.django_db
def test_initial_snapshot_of_an_empty_database_is_zeros():
    snapshot = snapshot_from_database()
    assert snapshot["totals"]["total_outcomes"] == 0
    assert snapshot["rolling"] == {
        "horizon_s": RATE_HORIZON_S,
        "outcomes": 0,
        "per_second": 0.0,
        "latency_p50_s": None,
        "latency_p99_s": None,
    }
    assert snapshot["recent"] == []


def test_outcomes_never_imports_dashboard():
    """ARCHITECTURE §1: outcomes publishes to a channel-layer group; it does not know the dashboard."""
    root = Path(__file__).resolve().parents[2] / "outcomes"
    offenders = []
    for path in root.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            names = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                names = [node.module or ""]
            offenders += [f"{path}: {n}" for n in names if n == "dashboard" or n.startswith("dashboard.")]
    assert offenders == []


def test_an_interval_of_zero_turns_the_publisher_off():
    stop = start_publisher(interval_s=0, send=lambda snapshot: None)
    assert not [t for t in threading.enumerate() if t.name == "dashboard-snapshots"]
    stop()
