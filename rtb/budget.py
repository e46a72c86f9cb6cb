"""Budget, pacing and frequency room at bid time (SPEC §12, §14): the ledger asked down each
impression's ranked candidates (`Decision.candidates`, best first) until one reservation holds.

The ledger is never waited for past the deadline (less the time kept for Kafka's acknowledgement):
a ledger that is slow or unreachable is no room, so no bid (nbr 505). Reservations of an answer that
ends as a 204 (its events not acknowledged) are released in the background, after the answer left.
"""

import asyncio
import logging
import secrets
import time
from collections.abc import Sequence

import msgspec

from bidding.decision import Bid, Decision, NoBid
from campaigns.ledger import Ledger
from rtb.tokens import NoticeClaims

logger = logging.getLogger(__name__)


class BidBudget:
    def __init__(self, ledger: Ledger, *, ack_reserve_s: float) -> None:
        self.ledger = ledger
        self.ack_reserve_s = ack_reserve_s
        self._releasing: set[asyncio.Task[None]] = set()

    async def reserve(
        self, decisions: Sequence[Decision], *, user_id: str | None, deadline: float
    ) -> tuple[list[Decision], list[str | None]]:
        """Each impression's decision once the ledger had its say, and the bid id it reserved under."""
        chosen = await asyncio.gather(*(self._one(d, user_id, deadline) for d in decisions))
        return [d for d, _ in chosen], [bid_id for _, bid_id in chosen]

    async def _one(self, decision: Decision, user_id: str | None, deadline: float) -> tuple[Decision, str | None]:
        if not decision.candidates:
            return decision, None
        for bid in decision.candidates:
            left = deadline - time.perf_counter() - self.ack_reserve_s
            if left <= 0:
                break
            bid_id = secrets.token_hex(8)
            if await self._reserve(bid, bid_id, user_id, left):
                return msgspec.structs.replace(decision, bid=bid, no_bid=None), bid_id
        return msgspec.structs.replace(decision, bid=None, no_bid=NoBid.NO_ROOM), None

    async def _reserve(self, bid: Bid, bid_id: str, user_id: str | None, left: float) -> bool:
        return await self.ledger.reserve(
            bid.campaign, bid_id=bid_id, price_micros=bid.price_micros, user_id=user_id, now=time.time(),
            timeout_s=left,
        )  # fmt: skip

    def release_later(self, claims: Sequence[NoticeClaims]) -> None:
        """Releases these bids' reservations without holding the answer back."""
        if claims:
            task = asyncio.get_running_loop().create_task(self._release(claims))
            self._releasing.add(task)
            task.add_done_callback(self._releasing.discard)

    async def drain(self) -> None:
        """Waits for the releases in flight (a server's shutdown, tests)."""
        while self._releasing:
            await asyncio.gather(*self._releasing, return_exceptions=True)

    async def _release(self, claims: Sequence[NoticeClaims]) -> None:
        for one in claims:
            try:
                await self.ledger.release(one, now=time.time())
            except Exception as exc:  # noqa: BLE001 - the notice window releases it anyway
                logger.warning("releasing bid %s failed (expires after the notice window): %s", one.bid_id, exc)
