"""Profile lookups for `/openrtb2/bid`: cached, coalesced, off the event loop, never waited for past a deadline.

Each request asks for one user. A profile (or its absence) fetched in the last `ttl_s` is answered
from memory. The others wait for the next lookup: the users asked for while a lookup is in flight
are fetched together by the one after it, a single `batch_get` (the batch grows with the rate, no
fixed wait). The call runs in a worker thread through the bidder's circuit breaker and error policy
(`bidding.enrichment.lookup_profiles`) with a deadline of its own (`call_timeout_s`, longer than a
request's wait, so that one slow moment does not count as the profile service failing). A caller
waits at most its own deadline; a late answer still fills the cache (SPEC §12: "a late profile
lookup → priced as an unknown user").
"""

import asyncio
import logging
import time
from concurrent.futures import ThreadPoolExecutor

from bidding.breaker import CircuitBreaker
from bidding.enrichment import lookup_profiles
from profiles.types import Profile, ProfileLookup
from rtb.metrics import RTB_PROFILES

logger = logging.getLogger(__name__)

MAX_CACHED = 100_000  # users; the cache is dropped whole when it grows past this
_RESULTS = {r: RTB_PROFILES.labels(r) for r in ("found", "not_found", "late", "unavailable", "skipped", "error")}

Waiter = asyncio.Future[Profile | None]


class CoalescingLookup:
    """One per event loop. `get(user_id, wait_s)` -> the profile, or None (unknown, late or failed)."""

    def __init__(
        self, lookup: ProfileLookup, breaker: CircuitBreaker, *, call_timeout_s: float, ttl_s: float = 2.0
    ) -> None:
        self.lookup = lookup
        self.breaker = breaker
        self.call_timeout_s = call_timeout_s
        self.ttl_s = ttl_s
        self._cache: dict[str, tuple[float, Profile | None]] = {}
        self._waiting: dict[str, list[Waiter]] = {}
        self._drainer: asyncio.Task[None] | None = None
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="rtb-profiles")

    async def get(self, user_id: str, wait_s: float) -> Profile | None:
        cached = self._cache.get(user_id)
        if cached is not None and cached[0] > time.monotonic():
            _RESULTS["found" if cached[1] is not None else "not_found"].inc()
            return cached[1]
        if wait_s <= 0:
            _RESULTS["late"].inc()
            return None
        loop = asyncio.get_running_loop()
        future: Waiter = loop.create_future()
        self._waiting.setdefault(user_id, []).append(future)
        if self._drainer is None or self._drainer.done():  # no batch in flight: this one starts it
            self._drainer = loop.create_task(self._drain())
        timer = loop.call_later(wait_s, _give_up, future)
        try:
            return await future
        finally:
            timer.cancel()

    async def _drain(self) -> None:
        loop = asyncio.get_running_loop()
        while self._waiting:
            waiting, self._waiting = self._waiting, {}
            try:
                found, failure = await loop.run_in_executor(self._pool, self._call, list(waiting))
            except Exception:  # lookup_profiles never raises; be safe
                logger.exception("profile lookup failed unexpectedly")
                found, failure = {}, "error"
            self._answer(waiting, found, failure)

    def _answer(self, waiting: dict[str, list[Waiter]], found: dict[str, Profile], failure: str | None) -> None:
        if failure is None:
            if len(self._cache) + len(waiting) > MAX_CACHED:
                self._cache.clear()
            expires = time.monotonic() + self.ttl_s
            for user_id in waiting:
                self._cache[user_id] = (expires, found.get(user_id))
        for user_id, futures in waiting.items():
            profile = found.get(user_id)
            for future in futures:
                if future.done():
                    continue  # its caller gave up (counted as late)
                future.set_result(profile)
                result = failure or ("found" if profile is not None else "not_found")
                _RESULTS[result].inc()

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


def _give_up(future: Waiter) -> None:
    if not future.done():
        future.set_result(None)
        _RESULTS["late"].inc()
