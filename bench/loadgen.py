"""An open-loop HTTP load generator for POST /bid, fast enough for thousands of bids/s in Python.

    .venv/bin/python bench/loadgen.py --url http://127.0.0.1:8080/bid --rate 2000 --duration 30 [--json]

Request i is due at start + i/rate whatever the server does (open loop). Its latency is measured
from that due time, so a slow server (or a starved generator) shows as latency, never as a lower
rate (no coordinated omission). Requests go round-robin over keep-alive connections and are
pipelined when a connection still waits for earlier answers (uvicorn answers them in order).

The bodies follow `manage.py simulate`'s mix (its `make_body`: 60 % simple form with 1-2 slots,
40 % OpenRTB with 1-3 impressions, 80 % seeded users user-001..020): a pool of templates is built
once and each request gets a fresh, fixed-length request id. It runs in its own process, apart
from the roles it loads. Prints one JSON summary line with --json.
"""

import argparse
import asyncio
import json
import os
import random
import secrets
import sys
import time
from collections import Counter, deque
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "helios_site.settings")

from intake.management.commands.simulate import make_body  # noqa: E402 - needs sys.path first

ID_LENGTH = 32  # the uuid4 hex ids make_body puts in; replaced by run tag + counter
TICK_S = 0.001
MAX_PIPELINE = 256  # answers a connection may owe before a request counts as not sent


class Template:
    __slots__ = ("head", "imps", "tail")

    def __init__(self, body: dict[str, Any]) -> None:
        key = "request_id" if "request_id" in body else "id"
        marker = body[key]
        text = json.dumps(body, separators=(",", ":")).encode()
        self.head, _, self.tail = text.partition(marker.encode())
        self.imps = len(body.get("ad_slots") or body.get("imp") or [None])


class Tally:
    def __init__(self) -> None:
        self.statuses: Counter[int] = Counter()
        self.latencies_s: list[float] = []
        self.accepted_imps = 0


class Connection(asyncio.Protocol):
    """One keep-alive connection; answers are matched to requests in order."""

    def __init__(self, tally: Tally) -> None:
        self.tally = tally
        self.pending: deque[tuple[float, int]] = deque()  # (due time, impressions)
        self.buffer = bytearray()
        self.transport: asyncio.Transport | None = None
        self.lost = asyncio.get_running_loop().create_future()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment] - uvloop's is not an asyncio.Transport

    def connection_lost(self, exc: Exception | None) -> None:
        self.transport = None
        if not self.lost.done():
            self.lost.set_result(exc)

    def send(self, data: bytes, due: float, imps: int) -> None:
        assert self.transport is not None
        self.pending.append((due, imps))
        self.transport.write(data)

    def data_received(self, data: bytes) -> None:
        buffer = self.buffer
        buffer += data
        now = time.monotonic()
        tally = self.tally
        while True:
            end = buffer.find(b"\r\n\r\n")
            if end < 0:
                return
            head = bytes(buffer[:end]).lower()
            length = 0
            at = head.find(b"content-length:")
            if at >= 0:
                stop = head.find(b"\r\n", at)
                length = int(head[at + 15 : stop if stop >= 0 else len(head)])
            if len(buffer) < end + 4 + length:
                return
            status = int(head[9:12])
            del buffer[: end + 4 + length]
            due, imps = self.pending.popleft()
            tally.statuses[status] += 1
            tally.latencies_s.append(now - due)
            if status == 202:
                tally.accepted_imps += imps


def percentile(ordered: list[float], q: float) -> float | None:
    if not ordered:
        return None
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def run(url: str, rate: float, duration_s: float, connections: int, seed: int, drain_s: float) -> dict[str, Any]:
    target = urlsplit(url)
    host, port, path = target.hostname or "127.0.0.1", target.port or 80, target.path or "/bid"
    rng = random.Random(seed)
    templates = [Template(make_body(rng, 20)) for _ in range(4096)]
    tag = secrets.token_hex(4)
    loop = asyncio.get_running_loop()
    tally = Tally()
    conns: list[Connection] = []
    for _ in range(connections):
        _, conn = await loop.create_connection(lambda: Connection(tally), host, port)
        conns.append(conn)
    request_head = f"POST {path} HTTP/1.1\r\nHost: {host}:{port}\r\nContent-Type: application/json\r\n".encode()

    total = int(rate * duration_s)
    sent = skipped = 0
    worst_lag_s = 0.0
    started = time.monotonic()
    i = 0
    while i < total:
        now = time.monotonic()
        due_now = min(total, int((now - started) * rate) + 1)
        while i < due_now:
            template = templates[i % len(templates)]
            body = b"%s%s%024x%s" % (template.head, tag.encode(), i, template.tail)
            conn = conns[i % connections]
            due = started + i / rate
            worst_lag_s = max(worst_lag_s, now - due)
            if conn.transport is None or len(conn.pending) >= MAX_PIPELINE:
                skipped += 1
            else:
                conn.send(b"%sContent-Length: %d\r\n\r\n%s" % (request_head, len(body), body), due, template.imps)
                sent += 1
            i += 1
        await asyncio.sleep(TICK_S)
    send_s = time.monotonic() - started
    deadline = time.monotonic() + drain_s
    while any(c.pending for c in conns) and time.monotonic() < deadline:
        await asyncio.sleep(0.01)
    unanswered = sum(len(c.pending) for c in conns)
    for conn in conns:
        if conn.transport is not None:
            conn.transport.close()
    ordered = sorted(tally.latencies_s)
    accepted = tally.statuses.get(202, 0)

    def ms(value: float | None) -> float | None:
        return None if value is None else round(value * 1000, 2)

    return {
        "target_rate_per_s": rate,
        "duration_s": duration_s,
        "connections": connections,
        "scheduled": total,
        "sent": sent,
        "not_sent_pipeline_full": skipped,
        "send_rate_per_s": round(sent / send_s, 1),
        "worst_send_lag_ms": ms(worst_lag_s),
        "answers": {str(k): v for k, v in sorted(tally.statuses.items())},
        "accepted": accepted,
        "not_202": total - accepted,
        "unanswered": unanswered,
        "accepted_impressions": tally.accepted_imps,
        "latency_p50_ms": ms(percentile(ordered, 0.50)),
        "latency_p99_ms": ms(percentile(ordered, 0.99)),
        "latency_p999_ms": ms(percentile(ordered, 0.999)),
        "latency_max_ms": ms(ordered[-1] if ordered else None),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", required=True)
    parser.add_argument("--rate", type=float, required=True, help="requests per second")
    parser.add_argument("--duration", type=float, required=True, help="seconds")
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--drain", type=float, default=15.0, help="seconds to wait for the last answers")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    try:
        import uvloop

        uvloop.install()
    except ImportError:
        pass
    summary = asyncio.run(run(args.url, args.rate, args.duration, args.connections, args.seed, args.drain))
    if args.json:
        print(json.dumps(summary), flush=True)
    else:
        for key, value in summary.items():
            print(f"{key:>24}: {value}")


if __name__ == "__main__":
    main()
