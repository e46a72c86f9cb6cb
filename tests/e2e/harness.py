"""The whole platform as real OS processes, started the way a user starts them (pipeline/processes.py,
shared with the benchmarks), on fresh topics (HELIOS_TOPIC_PREFIX), the pytest database and a Redis
database of its own; plus the bids the tests send and what the rules say must come out.
"""

import http.client
import json
import random
import subprocess
import sys
import time
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from django.db import connection

from auction.consumer import auction_settings
from auction.rules import run_auction
from bidding.pricing import price_bid
from conftest import REPO, service_env
from pipeline.processes import RoleProcesses, http_get
from profiles.demo import DEMO_BY_ID


def database_url() -> str:
    s = connection.settings_dict
    return f"postgresql://{s['USER']}:{s['PASSWORD']}@{s['HOST']}:{s['PORT']}/{s['NAME']}"


def wait_for(check: Callable[[], bool], timeout_s: float, what: str, interval_s: float = 0.1) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            if check():
                return
        except OSError:
            pass
        time.sleep(interval_s)
    raise TimeoutError(f"timed out waiting for {what}")


class Platform(RoleProcesses):
    """The role processes of one test, on its topics, the pytest database and `redis_url`; a
    context manager that stops every role and, unless the block failed, asserts clean exits."""

    def __init__(self, workdir: Path, prefix: str, redis_url: str, **env: str) -> None:
        super().__init__(
            workdir,
            service_env(
                HELIOS_TOPIC_PREFIX=prefix,
                HELIOS_CONSUMER_GROUP_PREFIX=f"{prefix}helios",
                DATABASE_URL=database_url(),
                REDIS_URL=redis_url,
                # A loaded 2-core test machine can miss the 50 ms production deadline, which would
                # (correctly) bid unenriched; the expected values assume every lookup answers.
                HELIOS_PROFILE_DEADLINE_S="2",
                **env,
            ),
        )

    def seed_profiles(self) -> None:
        subprocess.run(
            [sys.executable, "manage.py", "seed_profiles", "--flush"],
            cwd=REPO,
            env=self.env,
            check=True,
            capture_output=True,
        )

    def __enter__(self) -> "Platform":
        return self

    def __exit__(self, exc_type: object, exc: object, tb: object) -> None:
        """Stops every role; unless the block failed already, each must have exited cleanly."""
        codes = self.stop_all()
        if exc_type is None:
            assert all(code == 0 for code in codes.values()), f"unclean exits: {codes} (logs in {self.workdir})"

    def metrics(self, role: str) -> str:
        return http_get(self.ports[role], "/metrics")[1]

    def ready(self, role: str, timeout_s: float = 2) -> int:
        """The status of the role's `/readyz`."""
        return http_get(self.ports[role], "/readyz", timeout_s=timeout_s)[0]


@dataclass
class Sent:
    """What the client sent and what the handler answered."""

    body: dict[str, Any]
    status: int = 0
    answer: dict[str, Any] = field(default_factory=dict)


def post_all(port: int, bodies: Iterable[dict[str, Any]], threads: int = 8) -> list[Sent]:
    """POSTs every body to /bid over keep-alive connections; returns them with their answers."""
    sent = [Sent(body) for body in bodies]

    def worker(chunk: list[Sent]) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        for item in chunk:
            conn.request("POST", "/bid", json.dumps(item.body), {"Content-Type": "application/json"})
            response = conn.getresponse()
            item.status = response.status
            raw = response.read()
            item.answer = json.loads(raw) if raw else {}
        conn.close()

    with ThreadPoolExecutor(threads) as pool:
        list(pool.map(worker, [sent[i::threads] for i in range(threads)]))
    return sent


def make_bids(count: int, seed: int = 7) -> list[dict[str, Any]]:
    """A deterministic mix: seeded, unknown and absent users; simple and OpenRTB forms with several
    impressions; floors below and above the price; a non-USD floor."""
    rng = random.Random(seed)
    users = sorted(DEMO_BY_ID)
    floors = [0.0, 0.0, 0.3, 0.5, 0.6, 0.85, 0.9, 1.2, 1.5]
    bids: list[dict[str, Any]] = []
    for i in range(count):
        kind = i % 5
        user = rng.choice(users) if kind in (0, 1, 3) else (f"ghost-{i}" if kind == 2 else None)
        if kind in (0, 2, 4):
            slots = [
                {"id": f"slot-{j}", "min_bid": rng.choice(floors), "format": ["300x250"]}
                for j in range(rng.randint(0, 2))
            ]
            body: dict[str, Any] = {"request_id": f"e2e-{seed}-{i}", "site": {"domain": f"site{i % 7}.com"}}
            if user:
                body["user_id"] = user
            if slots:
                body["ad_slots"] = slots
        else:
            body = {
                "id": f"e2e-{seed}-{i}",
                "imp": [
                    {
                        "id": str(j + 1),
                        "bidfloor": rng.choice(floors),
                        "bidfloorcur": "EUR" if rng.random() < 0.1 else "USD",
                        "banner": {"w": 300, "h": 250},
                    }
                    for j in range(rng.randint(1, 4))
                ],
                "site": {"domain": f"site{i % 7}.com"},
                "user": {"buyeruid": user} if kind == 3 else {"id": user},
            }
        bids.append(body)
    return bids


def impressions(item: Sent) -> list[tuple[str, float, str]]:
    """(imp_id, floor, floor currency) of each impression of a sent body, as the handler reads it."""
    body = item.body
    if "imp" in body:
        return [(imp["id"], imp.get("bidfloor", 0.0), imp.get("bidfloorcur", "USD")) for imp in body["imp"]]
    slots = body.get("ad_slots") or [{"id": "1", "min_bid": 0.0}]
    return [(slot["id"], slot["min_bid"], "USD") for slot in slots]


def user_of(body: dict[str, Any]) -> str | None:
    if "imp" in body:
        user = body.get("user") or {}
        return user.get("id") or user.get("buyeruid")
    return body.get("user_id")


def expected_outcomes(sent: list[Sent], *, enriched: bool = True) -> dict[tuple[str, str], dict[str, Any]]:
    """What the rules say each accepted impression's stored outcome must be."""
    rules = auction_settings()
    expected = {}
    for item in sent:
        if item.status != 202:
            continue
        request_id = item.answer["request_id"]
        user = user_of(item.body)
        profile = DEMO_BY_ID[user].profile if (enriched and user in DEMO_BY_ID) else None
        for imp_id, floor, currency in impressions(item):
            decision = price_bid(profile=profile, floor=floor, floor_currency=currency)
            result = run_auction(bid_price=decision.bid_price, bid_request_id=request_id, imp_id=imp_id, settings=rules)
            expected[(request_id, imp_id)] = {
                "user_id": user,
                "bid_price": decision.bid_price,
                "enriched": decision.enriched,
                "winning_interest": decision.winning_interest,
                "no_bid_reason": decision.no_bid_reason,
                "win_status": result.win_status,
                "win_price": result.win_price,
                "loss_reason": result.loss_reason,
            }
    return expected
