"""The RTB path's profile lookup: coalesced into batches, cached briefly, never waited for past a deadline."""

import asyncio
import threading
from collections.abc import Sequence

from bidding.breaker import CircuitBreaker
from bidding.tests.fakes import FakeLookup, profile
from profiles.types import Profile, ProfileUnavailable
from rtb.lookup import CoalescingLookup

FAN = profile("fan", ("sports", 0.9))


class GatedLookup(FakeLookup):
    """Holds every call until `gate` is set."""

    def __init__(self, profiles: Sequence[Profile]) -> None:
        super().__init__(profiles)
        self.gate = threading.Event()

    def batch_get(self, user_ids: Sequence[str], *, timeout_s: float) -> dict[str, Profile]:
        self.gate.wait(5)
        return super().batch_get(user_ids, timeout_s=timeout_s)


def test_users_asked_for_while_a_lookup_runs_are_fetched_together_then_cached() -> None:
    lookup = GatedLookup([FAN])
    coalescing = CoalescingLookup(lookup, CircuitBreaker(), call_timeout_s=1)

    async def scenario() -> list[Profile | None]:
        first = asyncio.ensure_future(coalescing.get("fan", 5))
        await asyncio.sleep(0.05)  # the first call is in flight, held at the gate
        rest = [asyncio.ensure_future(coalescing.get(u, 5)) for u in ("a", "b", "fan", "a")]
        await asyncio.sleep(0.05)
        lookup.gate.set()
        answers = [await first, *[await r for r in rest]]
        answers.append(await coalescing.get("fan", 5))  # cached: no call
        answers.append(await coalescing.get("b", 5))  # an unknown user is cached too
        return answers

    answers = asyncio.run(scenario())
    assert answers == [FAN, None, None, FAN, None, FAN, None]
    assert [sorted(ids) for ids, _ in lookup.calls] == [["fan"], ["a", "b", "fan"]]


def test_a_caller_stops_waiting_at_its_deadline_and_the_late_answer_still_fills_the_cache() -> None:
    lookup = GatedLookup([FAN])
    coalescing = CoalescingLookup(lookup, CircuitBreaker(), call_timeout_s=1)

    async def scenario() -> tuple[Profile | None, Profile | None]:
        late = await coalescing.get("fan", 0.01)
        lookup.gate.set()
        assert coalescing._drainer is not None
        await coalescing._drainer  # the late answer lands
        return late, await coalescing.get("fan", 0)  # no time to wait at all: the cache answers

    assert asyncio.run(scenario()) == (None, FAN)
    assert len(lookup.calls) == 1


def test_a_failed_lookup_is_not_cached() -> None:
    lookup = FakeLookup([FAN], error=ProfileUnavailable("down"))
    coalescing = CoalescingLookup(lookup, CircuitBreaker(failure_threshold=100), call_timeout_s=1)

    async def twice() -> list[Profile | None]:
        return [await coalescing.get("fan", 1), await coalescing.get("fan", 1)]

    assert asyncio.run(twice()) == [None, None]
    assert len(lookup.calls) == 2
