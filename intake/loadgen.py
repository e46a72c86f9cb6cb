"""The open-loop load generator for POST /bid: `manage.py simulate` and the benchmarks (bench/loadgen.py).

Request i is due at start + i/rate whatever the server does (open loop). Its latency is measured
from that due time, so a slow server (or a starved generator) shows as latency, never as a lower
rate (no coordinated omission). Requests go round-robin over keep-alive connections and are
pipelined when a connection still waits for earlier answers (uvicorn answers them in order); a
connection the server closed (idle keep-alive) is opened again.

The bodies mix the Helios simple form and OpenRTB requests, seeded and unknown users, several
impressions and floors (`make_body`): a pool of templates is built once and each request gets a
fresh, fixed-length request id, so thousands of requests per second cost little Python. A caller
may bring its own templates instead (the RTB benchmark's OpenRTB bodies, to any path), each with an
optional deadline: answers later than it (from the due time) are counted as `late_answers`.
"""

import asyncio
import json
import random
import secrets
import time
import uuid
from collections import Counter, deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, cast
from urllib.parse import urlsplit

FLOORS = (0.0, 0.0, 0.1, 0.3, 0.5, 0.7, 0.9, 1.0, 1.5)
TEMPLATES = 4096
TICK_S = 0.001
MAX_PIPELINE = 256  # answers a connection may owe before a request counts as not sent


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


class Template:
    """A body's JSON around its request id (replaced by run tag + counter; its first occurrence in
    the JSON must be the id's), and the answer's deadline from the due time (None: none)."""

    __slots__ = ("deadline_s", "head", "imps", "tail")

    def __init__(self, body: dict[str, Any], deadline_s: float | None = None) -> None:
        key = "request_id" if "request_id" in body else "id"
        text = json.dumps(body, separators=(",", ":")).encode()
        self.head, _, self.tail = text.partition(json.dumps(body[key]).encode()[1:-1])
        self.imps = len(body.get("ad_slots") or body.get("imp") or [None])
        self.deadline_s = deadline_s


@dataclass
class Tally:
    statuses: Counter[str] = field(default_factory=Counter)
    latencies_s: list[float] = field(default_factory=list)
    accepted_imps: int = 0
    late: int = 0  # answers after their template's deadline


class Connection(asyncio.Protocol):
    """One keep-alive connection; answers are matched to requests in order."""

    def __init__(self, tally: Tally) -> None:
        self.tally = tally
        self.pending: deque[tuple[float, int, float | None]] = deque()  # (due time, impressions, deadline)
        self.buffer = bytearray()
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's is not an asyncio.Transport subclass

    def connection_lost(self, exc: Exception | None) -> None:
        self.transport = None
        if self.pending:  # sent, never answered
            self.tally.statuses["connection_lost"] += len(self.pending)
            self.pending.clear()

    def send(self, data: bytes, due: float, imps: int, deadline_s: float | None = None) -> None:
        assert self.transport is not None
        self.pending.append((due, imps, deadline_s))
        self.transport.write(data)

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        now = time.monotonic()
        while (answer := self._next_answer()) is not None:
            due, imps, deadline_s = self.pending.popleft()
            self.tally.statuses[str(answer)] += 1
            self.tally.latencies_s.append(now - due)
            if deadline_s is not None and now - due > deadline_s:
                self.tally.late += 1
            if answer == 202:
                self.tally.accepted_imps += imps

    def _next_answer(self) -> int | None:
        """The status of the next complete response in the buffer (removed from it), or None."""
        buffer = self.buffer
        end = buffer.find(b"\r\n\r\n")
        if end < 0:
            return None
        head = bytes(buffer[:end]).lower()
        length = 0
        at = head.find(b"content-length:")
        if at >= 0:
            stop = head.find(b"\r\n", at)
            length = int(head[at + 15 : stop if stop >= 0 else len(head)])
        if len(buffer) < end + 4 + length:
            return None
        del buffer[: end + 4 + length]
        return int(head[9:12])


def percentile(ordered: list[float], q: float) -> float | None:
    if not ordered:
        return None
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


class LoadGenerator:
    """Sends `rate` requests/s for `duration_s` to `url` over `connections` keep-alive connections;
    the bodies are `templates` in turn, or (None) a pool of `make_body`'s."""

    def __init__(
        self,
        url: str,
        *,
        rate: float,
        duration_s: float,
        connections: int,
        seed: int | None,
        users: int,
        templates: Sequence[Template] | None = None,
    ):
        target = urlsplit(url)
        self.host, self.port = target.hostname or "127.0.0.1", target.port or 80
        self.rate, self.duration_s, self.connections = rate, duration_s, connections
        rng = random.Random(seed)
        self.templates = list(templates or [Template(make_body(rng, users)) for _ in range(TEMPLATES)])
        self.request_head = (
            f"POST {target.path or '/bid'} HTTP/1.1\r\nHost: {self.host}:{self.port}\r\n"
            "Content-Type: application/json\r\n"
        ).encode()
        self.tag = secrets.token_hex(4).encode()
        self.tally = Tally()
        self.conns: list[Connection] = []
        self._reconnecting: set[int] = set()
        self._tasks: set[asyncio.Task[None]] = set()
        self.sent = self.not_sent = 0
        self.worst_lag_s = 0.0

    async def _connect(self) -> Connection:
        _, conn = await asyncio.get_running_loop().create_connection(
            lambda: Connection(self.tally), self.host, self.port
        )
        return conn

    async def _reconnect(self, index: int, i: int, due: float) -> None:
        """Opens connection `index` again (the server closed it, e.g. idle keep-alive) and sends
        request `i` on it; a request due meanwhile on it counts as not sent."""
        try:
            self.conns[index] = await self._connect()
        except OSError as exc:
            self.tally.statuses[type(exc).__name__] += 1
            return
        finally:
            self._reconnecting.discard(index)
        self._send(i, due)

    def _send(self, i: int, due: float) -> None:
        template = self.templates[i % len(self.templates)]
        index = i % len(self.conns)
        conn = self.conns[index]
        if conn.transport is None and index not in self._reconnecting:
            self._reconnecting.add(index)
            task = asyncio.get_running_loop().create_task(self._reconnect(index, i, due))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
            return
        if conn.transport is None or len(conn.pending) >= MAX_PIPELINE:
            self.not_sent += 1
            return
        body = b"%s%s%024x%s" % (template.head, self.tag, i, template.tail)
        request = b"%sContent-Length: %d\r\n\r\n%s" % (self.request_head, len(body), body)
        conn.send(request, due, template.imps, template.deadline_s)
        self.sent += 1

    async def run(self, progress: Callable[[int], object] | None = None, drain_s: float = 15.0) -> dict[str, Any]:
        """Runs the load and waits up to `drain_s` for the last answers; returns the summary.
        `progress(n)` is told every tick how many more requests were due."""
        self.conns = [await self._connect() for _ in range(self.connections)]
        total = int(self.rate * self.duration_s)
        started = time.monotonic()
        i = 0
        while i < total:
            now = time.monotonic()
            due_now = min(total, int((now - started) * self.rate) + 1)
            if progress is not None and due_now > i:
                progress(due_now - i)
            while i < due_now:
                due = started + i / self.rate
                self.worst_lag_s = max(self.worst_lag_s, now - due)
                self._send(i, due)
                i += 1
            await asyncio.sleep(TICK_S)
        send_s = time.monotonic() - started
        deadline = time.monotonic() + drain_s
        while (self._tasks or any(c.pending for c in self.conns)) and time.monotonic() < deadline:
            await asyncio.sleep(0.01)
        return self._summary(total, send_s, time.monotonic() - started)

    def _summary(self, total: int, send_s: float, elapsed_s: float) -> dict[str, Any]:
        unanswered = sum(len(c.pending) for c in self.conns)
        for conn in self.conns:
            if conn.transport is not None:
                conn.transport.close()
        tally, ordered = self.tally, sorted(self.tally.latencies_s)
        accepted = tally.statuses.get("202", 0)

        def ms(value: float | None) -> float | None:
            return None if value is None else round(value * 1000, 2)

        return {
            "target_rate_per_s": self.rate,
            "duration_s": self.duration_s,
            "connections": self.connections,
            "scheduled": total,
            "sent": self.sent,
            "not_sent": self.not_sent,
            "rate_per_s": round(self.sent / send_s, 1),
            "elapsed_s": round(elapsed_s, 2),
            "worst_send_lag_ms": ms(self.worst_lag_s),
            "answers": dict(sorted(tally.statuses.items())),
            "accepted": accepted,
            "rejected": total - accepted,
            "unanswered": unanswered,
            "accepted_impressions": tally.accepted_imps,
            "late_answers": tally.late,
            "latency_p50_ms": ms(percentile(ordered, 0.50)),
            "latency_p99_ms": ms(percentile(ordered, 0.99)),
            "latency_p999_ms": ms(percentile(ordered, 0.999)),
            "latency_max_ms": ms(ordered[-1] if ordered else None),
        }


def run(
    url: str,
    *,
    rate: float,
    duration_s: float,
    connections: int = 64,
    seed: int | None = 7,
    users: int = 20,
    drain_s: float = 15.0,
    progress: Callable[[int], object] | None = None,
    templates: Sequence[Template] | None = None,
) -> dict[str, Any]:
    """Runs one load (on uvloop when installed) and returns its summary."""
    generator = LoadGenerator(
        url, rate=rate, duration_s=duration_s, connections=connections, seed=seed, users=users, templates=templates
    )
    try:
        import uvloop
    except ImportError:
        return asyncio.run(generator.run(progress, drain_s))
    return uvloop.run(generator.run(progress, drain_s))
