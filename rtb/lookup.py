"""Profile lookups for `/openrtb2/bid`: coalesced, off the event loop, never waited for past a deadline.

Each request asks for one user; the requests that arrive while a lookup is in flight are served
by the next one, a single `batch_get` for all their users (the batch grows with the rate, no fixed
wait). The call runs in a worker thread through the bidder's circuit breaker and error policy
(`bidding.enrichment.lookup_profiles`): a failing profile service means unenriched bids, never an
error. A caller waits at most its own deadline; a late answer is dropped (SPEC §12: "a late
profile lookup → priced as an unknown user").
"""

import asyncio
import logging
from concurrent.futures import ThreadPoolExecutor

from bidding.breaker import CircuitBreaker
from bidding.enrichment import lookup_profiles
from profiles.types import Profile, ProfileLookup

logger = logging.getLogger(__name__)


class CoalescingLookup:
    """One per event loop. `get(user_id, wait_s)` -> the profile, or None (unknown, late or failed)."""

    def __init__(self, lookup: ProfileLookup, breaker: CircuitBreaker, *, call_timeout_s: float) -> None:
        self.lookup = lookup
        self.breaker = breaker
        self.call_timeout_s = call_timeout_s
        self._waiting: dict[str, list[asyncio.Future[Profile | None]]] = {}
        self._running = False
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="rtb-profiles")

    async def get(self, user_id: str, wait_s: float) -> Profile | None:
        if wait_s <= 0:
            return None
        future: asyncio.Future[Profile | None] = asyncio.get_running_loop().create_future()
        self._waiting.setdefault(user_id, []).append(future)
        if not self._running:
            self._running = True
            asyncio.get_running_loop().create_task(self._drain())
        try:
            return await asyncio.wait_for(asyncio.shield(future), wait_s)
        except TimeoutError:
            return None

    async def _drain(self) -> None:
        loop = asyncio.get_running_loop()
        try:
            while self._waiting:
                waiting, self._waiting = self._waiting, {}
                try:
                    found, _failure = await loop.run_in_executor(self._pool, self._call, list(waiting))
                except Exception:  # lookup_profiles never raises; be safe
                    logger.exception("profile lookup failed unexpectedly")
                    found = {}
                for user_id, futures in waiting.items():
                    profile = found.get(user_id)
                    for future in futures:
                        if not future.done():
                            future.set_result(profile)
        finally:
            self._running = False

    def _call(self, user_ids: list[str]) -> tuple[dict[str, Profile], str | None]:
        found, failure = lookup_profiles(
            user_ids, lookup=self.lookup, breaker=self.breaker, timeout_s=self.call_timeout_s
        )
        return dict(found), failure

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)
        close = getattr(self.lookup, "close", None)
        if close is not None:
            close()
