"""`manage.py simulate`: an open-loop traffic generator for either mode.

Requests are scheduled at a fixed rate whatever the server's speed (open loop), and each latency is
measured from the request's scheduled time, so a slow server shows up as latency, not as a lower
rate (no coordinated omission). It mixes the Helios simple form and OpenRTB requests, seeded and
unknown users, several impressions and floors.
"""

import http.client
import json
import random
import threading
import time
import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser
from tqdm import tqdm

FLOORS = (0.0, 0.0, 0.1, 0.3, 0.5, 0.7, 0.9, 1.0, 1.5)
TIMEOUT_S = 10.0


def make_body(rng: random.Random, users: int) -> dict[str, Any]:
    """One bid request: 60 % simple form, 40 % OpenRTB; 80 % of users from the seeded demo set."""
    roll = rng.random()
    user = (
        f"user-{rng.randint(1, users):03d}"
        if roll < 0.8
        else (f"visitor-{rng.randint(1, 10**6)}" if roll < 0.95 else None)
    )
    request_id = uuid.uuid4().hex
    site = {"domain": rng.choice(("news.com", "sports.net", "travel.io", "food.blog", "tech.dev")), "page": "/"}
    if rng.random() < 0.6:
        body: dict[str, Any] = {
            "request_id": request_id,
            "site": site,
            "ad_slots": [
                {"id": f"slot-{i}", "min_bid": rng.choice(FLOORS), "format": ["300x250"]}
                for i in range(rng.randint(1, 2))
            ],
        }
        if user:
            body["user_id"] = user
        return body
    return {
        "id": request_id,
        "imp": [
            {"id": str(i + 1), "bidfloor": rng.choice(FLOORS), "banner": {"w": 300, "h": 250}}
            for i in range(rng.randint(1, 3))
        ],
        "site": site,
        "user": {"id": user} if user else {},
        "tmax": 120,
    }


@dataclass
class Tally:
    lock: threading.Lock = field(default_factory=threading.Lock)
    statuses: Counter[str] = field(default_factory=Counter)
    accepted_imps: int = 0
    latencies_s: list[float] = field(default_factory=list)

    def record(self, status: str, imps: int, latency_s: float) -> None:
        with self.lock:
            self.statuses[status] += 1
            self.accepted_imps += imps
            self.latencies_s.append(latency_s)


def percentile(values: list[float], q: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


class Command(BaseCommand):
    help = "Send simulated bid traffic to a running Helios handler and summarise the answers."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--rate", type=float, default=100.0, help="requests per second")
        parser.add_argument("--duration", type=float, default=10.0, help="seconds")
        parser.add_argument(
            "--url", default=f"http://127.0.0.1:{settings.HELIOS_HANDLER_PORT}/bid", help="the handler's /bid"
        )
        parser.add_argument("--users", type=int, default=20, help="seeded users user-001..user-N to draw from")
        parser.add_argument("--seed", type=int, default=None, help="random seed (repeatable traffic)")
        parser.add_argument("--workers", type=int, default=32, help="concurrent connections")
        parser.add_argument("--json", action="store_true", help="print the summary as JSON")

    def handle(self, *args: Any, **opts: Any) -> None:
        if opts["rate"] <= 0 or opts["duration"] <= 0:
            raise CommandError("--rate and --duration must be positive")
        target = urlsplit(opts["url"])
        if target.scheme != "http" or not target.hostname:
            raise CommandError(f"--url must be an http:// URL, got {opts['url']!r}")
        rng = random.Random(opts["seed"])
        total = int(opts["rate"] * opts["duration"])
        tally = Tally()
        local = threading.local()

        def connection() -> http.client.HTTPConnection:
            conn = getattr(local, "conn", None)
            if conn is None:
                conn = local.conn = http.client.HTTPConnection(target.hostname, target.port or 80, timeout=TIMEOUT_S)
            return conn

        def post(body: dict[str, Any]) -> tuple[int, bytes]:
            # A keep-alive connection the server closed while idle fails on the next send; the
            # request never arrived, so it is sent again once on a fresh connection.
            for attempt in (1, 2):
                conn = connection()
                try:
                    conn.request("POST", target.path or "/bid", json.dumps(body), {"Content-Type": "application/json"})
                    response = conn.getresponse()
                    return response.status, response.read()
                except (BrokenPipeError, ConnectionResetError, http.client.RemoteDisconnected):
                    conn.close()
                    local.conn = None
                    if attempt == 2:
                        raise
            raise AssertionError("unreachable")

        def send(body: dict[str, Any], scheduled: float) -> None:
            try:
                status, raw = post(body)
                imps = json.loads(raw).get("imps", 0) if status == 202 else 0
                tally.record(str(status), imps, time.monotonic() - scheduled)
            except (OSError, http.client.HTTPException, ValueError) as exc:
                if local.conn is not None:
                    local.conn.close()
                local.conn = None
                tally.record(type(exc).__name__, 0, time.monotonic() - scheduled)

        started = time.monotonic()
        interval = 1.0 / opts["rate"]
        with ThreadPoolExecutor(opts["workers"]) as pool, tqdm(total=total, unit="req", disable=opts["json"]) as bar:
            for i in range(total):
                scheduled = started + i * interval
                delay = scheduled - time.monotonic()
                if delay > 0:
                    time.sleep(delay)
                pool.submit(send, make_body(rng, opts["users"]), scheduled)
                bar.update(1)
        elapsed = time.monotonic() - started
        self._summary(tally, total, elapsed, as_json=opts["json"])

    def _summary(self, tally: Tally, total: int, elapsed: float, *, as_json: bool) -> None:
        accepted = tally.statuses.get("202", 0)
        summary = {
            "sent": total,
            "accepted": accepted,
            "rejected": total - accepted,
            "accepted_impressions": tally.accepted_imps,
            "answers": dict(tally.statuses),
            "elapsed_s": round(elapsed, 2),
            "rate_per_s": round(total / elapsed, 1),
            "latency_p50_ms": round(percentile(tally.latencies_s, 0.50) * 1000, 2),
            "latency_p99_ms": round(percentile(tally.latencies_s, 0.99) * 1000, 2),
        }
        if as_json:
            self.stdout.write(json.dumps(summary))
            return
        self.stdout.write(
            f"sent {summary['sent']}  accepted {accepted} ({tally.accepted_imps} impressions)  "
            f"rejected {summary['rejected']}  answers {summary['answers']}\n"
            f"{summary['rate_per_s']} req/s over {summary['elapsed_s']} s  "
            f"client latency p50 {summary['latency_p50_ms']} ms  p99 {summary['latency_p99_ms']} ms"
        )
