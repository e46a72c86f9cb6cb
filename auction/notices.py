"""The post-auction loop's ledger side (SPEC §14), a second stream of the auction role:

    auction_notices -> decode (poison -> auction_notices_dlq) -> batch -> ledger -> commit offsets

A billing notice settles its bid (spend += clearing price/1000, the reservation released), a loss
notice releases it; a win notice moves no money (the bill does). The ledger makes each of these
happen once per bid id ("duplicate" the next times), so a notice re-delivered after a crash, or
replayed by the exchange, changes nothing. A ledger that is down keeps the batch (consumer paused)
and retries it: offsets move only once every notice of the batch was applied.

The ledger is reached through `NoticeLedger` (the API of campaigns/ledger/store.py's `Ledger`),
built by the factory named in HELIOS_NOTICE_LEDGER.
"""

import asyncio
import logging
import time
from collections.abc import Callable, Sequence
from typing import Any, Protocol

import redis
from django.conf import settings
from prometheus_client import Counter

from pipeline import topics
from pipeline.loading import import_path
from pipeline.messages import AuctionNotice
from pipeline.roles import RoleContext
from pipeline.sinks import SinkFactory

logger = logging.getLogger(__name__)

RETRYABLE = (redis.RedisError, OSError, TimeoutError)

APPLIED = Counter(
    "helios_notices_applied_total", "Notices applied to the ledger, by kind and result", ["kind", "result"]
)


class NoticeLedger(Protocol):
    """What the loop needs of the ledger. `claims`: an AuctionNotice (it carries the token's claims).
    Both raise (redis.RedisError, OSError, TimeoutError) when the ledger cannot be reached. A ledger
    with a synchronous `ready()` (campaigns/ledger/store.py's) also gets the role's `/readyz` check."""

    async def settle(self, claims: Any, *, clearing_micros: int, now: float) -> str: ...

    async def release(self, claims: Any, *, now: float) -> str: ...


class NoLedger:
    """Used when no ledger is configured (HELIOS_NOTICE_LEDGER="")."""

    async def settle(self, claims: Any, *, clearing_micros: int, now: float) -> str:
        return "none"

    async def release(self, claims: Any, *, now: float) -> str:
        return "none"


async def apply_notice(ledger: NoticeLedger, notice: AuctionNotice, *, now: float) -> str:
    """Applies one notice; returns the ledger's result ("applied", "duplicate", "late", "none")."""
    if notice.kind == "bill":
        assert notice.clearing_micros is not None  # the handler refuses a bill without a price
        return await ledger.settle(notice, clearing_micros=notice.clearing_micros, now=now)
    if notice.kind == "loss":
        return await ledger.release(notice, now=now)
    return "none"  # a win moves no money: the bill does


def make_ledger() -> NoticeLedger:
    """The ledger HELIOS_NOTICE_LEDGER's factory builds; "" for none (notices then move no money)."""
    path = settings.HELIOS_NOTICE_LEDGER
    if not path:
        logger.warning("HELIOS_NOTICE_LEDGER is empty: notices change no budget")
        return NoLedger()
    factory: Callable[[], NoticeLedger] = import_path(path)
    return factory()


class LedgerWriter:
    """Applies batches of notices on an event loop of its own (the ledger's asyncio client is bound
    to the loop that first used it)."""

    def __init__(self, ledger: NoticeLedger, clock: Callable[[], float] = time.time) -> None:
        self.ledger = ledger
        self.clock = clock
        self.loop = asyncio.new_event_loop()

    def __call__(self, batch: Sequence[AuctionNotice]) -> None:
        self.loop.run_until_complete(self._apply(batch))

    async def _apply(self, batch: Sequence[AuctionNotice]) -> None:
        for notice in batch:
            result = await apply_notice(self.ledger, notice, now=self.clock())
            APPLIED.labels(notice.kind, result).inc()

    def close(self) -> None:
        close = getattr(self.ledger, "close", None)
        if close is not None:
            self.loop.run_until_complete(close())
        self.loop.close()


def notices_factory(ctx: RoleContext) -> SinkFactory:
    ledger = make_ledger()
    writer = LedgerWriter(ledger)
    ctx.closers.append(writer.close)
    # `/readyz` follows the ledger's own Redis (HELIOS_LEDGER_REDIS_URL may name one apart from REDIS_URL).
    ready = getattr(ledger, "ready", None)
    if callable(ready):
        ctx.ready_checks.setdefault("ledger", ready)
    return SinkFactory(kind=AuctionNotice, topic=topics.AUCTION_NOTICES, write=writer, retryable=RETRYABLE)
