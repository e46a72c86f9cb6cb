"""A ledger for tests of the post-auction loop: it applies each bid's settle or release once, as the
real one does (campaigns/ledger/store.py), and records every call. `HELIOS_NOTICE_LEDGER =
"auction.tests.fakes.shared_ledger"` installs the shared one; with HELIOS_TEST_LEDGER_LOG set (a
path), role processes append each call to it as a JSON line, for a test in another process to read."""

import json
import os
from types import SimpleNamespace
from typing import Any


class FakeLedger:
    def __init__(self, log_path: str | None = None) -> None:
        self.calls: list[tuple[str, str, int | None, str]] = []  # (op, bid id, clearing micros, result)
        self.done: set[str] = set()
        self.log_path = log_path
        self.fail = 0  # the next this many calls raise ConnectionError (the ledger unreachable)
        self.reserved = 0  # what `state` reports as reserved and as the pacing line, micros
        self.pacing_target: int | None = None

    async def settle(self, claims: Any, *, clearing_micros: int, now: float) -> str:
        return self._apply("settle", claims.bid_id, clearing_micros)

    async def release(self, claims: Any, *, now: float) -> str:
        return self._apply("release", claims.bid_id, None)

    def _apply(self, op: str, bid_id: str, clearing: int | None) -> str:
        if self.fail:
            self.fail -= 1
            raise ConnectionError("ledger unreachable")
        result = "duplicate" if bid_id in self.done else "applied"
        self.done.add(bid_id)
        self.calls.append((op, bid_id, clearing, result))
        if self.log_path:
            with open(self.log_path, "a") as log:
                log.write(json.dumps([op, bid_id, clearing]) + "\n")
        return result

    async def state(self, campaign_id: int, *, now: float) -> SimpleNamespace:
        """What the real ledger's `state` gives, from what this fake settled (at 1/1000 of the CPM)."""
        spent = sum(c for op, _, c, r in self.calls if op == "settle" and r == "applied" and c) // 1000
        return SimpleNamespace(
            campaign_id=campaign_id, spent_micros=spent, spent_today_micros=spent, reserved_micros=self.reserved,
            open_reservations=1 if self.reserved else 0, late_bills=0, pacing_target_micros=self.pacing_target,
            day_started_at=now - now % 86_400,
        )  # fmt: skip

    def applied(self, op: str) -> dict[str, int | None]:
        return {bid: clearing for o, bid, clearing, result in self.calls if o == op and result == "applied"}


SHARED = FakeLedger()


def shared_ledger() -> FakeLedger:
    SHARED.log_path = os.environ.get("HELIOS_TEST_LEDGER_LOG") or None
    return SHARED
