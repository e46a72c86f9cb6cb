"""Dashboard snapshot rate under load: at most a few snapshots per second, whatever the bid rate.

Drives the outcomes role's snapshot publisher (dashboard/snapshots/) the way the sink does: the
batch listener gets a batch of synthetic outcomes every 50 ms (the sink's batch time), 1,000
outcomes/s by default, for 20 s, while the publisher's thread publishes to the channel-layer group
through the real sender (`async_to_sync(group_send)`). Counts the group sends and prints:

    snapshots/s  (must be <= 4)
    outcomes carried by the snapshots' windows (must equal those fed: nothing lost)
    listener cost per batch (it runs in the sink's writer thread)

The totals come from a stub instead of the database (they cost one rollup query per snapshot and do
not change the rate). Channel layer: the project's (HELIOS_CHANNEL_LAYER=redis REDIS_URL=... for
channels-redis; point REDIS_URL at a spare Redis database, e.g. /13), else in-memory.

    .venv/bin/python bench/dashboard.py [--rate 1000] [--seconds 20] [--interval 0.5]
"""

import argparse
import os
import sys
import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "helios_site.settings")

import django

django.setup()

from django.conf import settings  # noqa: E402

from dashboard.snapshots import SnapshotPublisher, Totals, channel_layer_sender  # noqa: E402
from outcomes.rows import OutcomeRow, outcome_row  # noqa: E402
from pipeline.messages import AuctionOutcomeMessage, LossReason, format_time  # noqa: E402

ZERO_TOTALS = Totals(
    total_outcomes=0,
    total_wins=0,
    total_losses=0,
    win_rate=0.0,
    total_revenue=0.0,
    average_bid_price=0.0,
    average_win_price=0.0,
    enriched_count=0,
)
BATCH_TIME_S = 0.05
MAX_SNAPSHOTS_PER_S = 4.0
PRICES = (0.0, 0.35, 0.60, 0.85, 1.20)


def synthetic_batch(start: int, size: int) -> list[OutcomeRow]:
    """A batch of rows as the sink hands them to its listeners."""
    now = format_time(datetime.now(UTC))
    batch = []
    for i in range(start, start + size):
        price = PRICES[i % len(PRICES)]
        won = price > 0 and i % 10 < 7
        batch.append(
            outcome_row(
                AuctionOutcomeMessage(
                    bid_request_id=f"bench-{i}",
                    imp_id="1",
                    user_id=f"user-{i % 20 + 1:03d}",
                    received_at=now,
                    site_domain=f"site{i % 7}.com",
                    bid_price=price,
                    bid_floor=0.0,
                    timestamp=now,
                    enriched=True,
                    win_status=won,
                    win_price=price if won else 0.0,
                    auction_timestamp=now,
                    loss_reason=None if won else (LossReason.NO_BID if price == 0 else LossReason.LOST),
                )
            )
        )
    return batch


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rate", type=int, default=1000, help="outcomes per second fed to the listener")
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--interval", type=float, default=settings.HELIOS_DASHBOARD_SNAPSHOT_S)
    args = parser.parse_args()

    real_send = channel_layer_sender()
    sends: list[dict[str, Any]] = []

    def send(snapshot: dict[str, Any]) -> None:
        real_send(snapshot)
        sends.append(snapshot)

    publisher = SnapshotPublisher(send=send, totals=lambda: ZERO_TOTALS, heartbeat_s=5.0)
    stop = threading.Event()
    thread = threading.Thread(target=publisher.run, args=(stop, args.interval), daemon=True)
    thread.start()

    per_batch = max(int(args.rate * BATCH_TIME_S), 1)
    fed = 0
    listener_s = 0.0
    batches = 0
    started = time.monotonic()
    next_at = started
    while time.monotonic() - started < args.seconds:
        batch = synthetic_batch(fed, per_batch)
        t0 = time.perf_counter()
        publisher.add(batch)
        listener_s += time.perf_counter() - t0
        fed += len(batch)
        batches += 1
        next_at += BATCH_TIME_S
        time.sleep(max(next_at - time.monotonic(), 0))
    elapsed = time.monotonic() - started
    during = len(sends)
    time.sleep(args.interval * 2)  # the last window goes out
    stop.set()
    thread.join(5)

    carried = sum(s["window"]["count"] for s in sends)
    rate = during / elapsed
    layer = settings.CHANNEL_LAYERS["default"]["BACKEND"].rsplit(".", 1)[-1]
    print(f"channel layer           {layer}")
    print(f"fed                     {fed:,} outcomes in {elapsed:.1f} s ({fed / elapsed:,.0f}/s, {batches:,} batches)")
    print(f"snapshots published     {during} ({rate:.2f}/s; interval {args.interval} s)")
    print(f"outcomes in snapshots   {carried:,} (fed {fed:,})")
    print(f"listener cost           {1e6 * listener_s / batches:.0f} us per batch of {per_batch}")
    ok = rate <= MAX_SNAPSHOTS_PER_S and carried == fed
    print(f"snapshots/s: {rate:.2f} (limit {MAX_SNAPSHOTS_PER_S:.0f}) -> {'OK' if ok else 'FAIL'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
