"""The ledger under concurrency (OS processes), pacing over a compressed day, Cluster slots, and failures."""

import asyncio
import multiprocessing
import random
import socket
import threading
from collections.abc import Iterator
from typing import Any

import pytest
import redis
from redis.cluster import key_slot

from campaigns.ledger import Ledger, LedgerSettings
from campaigns.tests.ledger_support import CPM, claims, make_ledger, prefixed, run, spec

COST = CPM // 1000
DAY = 1000.0
T0 = 1_000_000.0  # the start of a day of DAY seconds


@pytest.fixture
def prefix() -> Iterator[str]:
    yield from prefixed()


def _bidder(prefix: str, url: str, campaign_id: int, budget: int, worker: int, attempts: int, queue: Any) -> None:
    """One OS process: `attempts` reserves in 16 concurrent tasks; every accepted one billed 3 times
    (exchanges retry), or, one in five, lost."""
    campaign = spec(campaign_id, total_budget_micros=budget, daily_budget_micros=budget)

    async def main() -> tuple[int, int]:
        ledger = make_ledger(prefix, url)
        rng = random.Random(worker)
        billed = lost = 0

        async def one(i: int) -> None:
            nonlocal billed, lost
            bid = f"w{worker}-{i}"
            if not await ledger.reserve(campaign, bid_id=bid, price_micros=CPM, user_id=None, now=T0 + 1):
                return
            notice = claims(bid, campaign, issued_at=int(T0))
            if rng.random() < 0.2:
                lost += await ledger.release(notice, now=T0 + 2) == "applied"
                return
            results = [await ledger.settle(notice, clearing_micros=CPM, now=T0 + 2) for _ in range(3)]
            billed += results.count("applied")

        semaphore = asyncio.Semaphore(16)

        async def bounded(i: int) -> None:
            async with semaphore:
                await one(i)

        await asyncio.gather(*(bounded(i) for i in range(attempts)))
        await ledger.close()
        return billed, lost

    queue.put(asyncio.run(main()))


def test_four_processes_never_overspend_and_spend_the_whole_budget(prefix, settings):
    budget = 400 * COST  # 400 impressions; 4 processes try 300 each
    context = multiprocessing.get_context("spawn")
    queue = context.Queue()
    args = (prefix, settings.REDIS_URL, 11, budget)
    workers = [context.Process(target=_bidder, args=(*args, w, 300, queue)) for w in range(4)]
    for worker in workers:
        worker.start()
    results = [queue.get(timeout=120) for _ in workers]
    for worker in workers:
        worker.join(timeout=30)
    billed = sum(b for b, _ in results)

    async def body(ledger: Ledger):
        return await ledger.state(11, now=T0 + 3)

    state = run(prefix, body)
    assert state.spent_micros == billed * COST  # each bill counted once, though sent three times
    assert state.spent_micros <= budget and state.spent_today_micros <= budget
    assert state.reserved_micros == 0  # every reservation settled or released
    assert state.spent_micros >= 0.99 * budget  # losses freed their room for later bids: no leak


def _fill(ledger: Ledger, campaign: Any, now: float, tag: str) -> Any:
    async def fill() -> int:
        n = 0
        while await ledger.reserve(campaign, bid_id=f"{tag}-{n}", price_micros=CPM, user_id=None, now=now):
            n += 1
        return n

    return fill()


def test_even_pacing_follows_the_line_over_a_compressed_day(prefix):
    daily = 1000 * COST
    burst = daily // 100  # HELIOS_LEDGER_PACING_BURST 0.01
    campaign = spec(daily_budget_micros=daily, pacing="even")

    async def body(ledger: Ledger) -> None:
        for fraction in (0.25, 0.5, 0.75):
            now = T0 + fraction * DAY
            await _fill(ledger, campaign, now, f"t{fraction}")
            state = await ledger.state(campaign.id, now=now)
            line = daily * fraction
            assert state.pacing_target_micros == line
            committed = state.spent_today_micros + state.reserved_micros
            assert line <= committed <= line + burst  # on the line, ahead by at most the burst
            assert line + burst - committed < COST  # and filled up to it

    run(prefix, body, day_s=DAY, notice_window_s=10 * DAY)


def test_asap_spends_the_whole_daily_budget_at_once(prefix):
    daily = 1000 * COST
    campaign = spec(daily_budget_micros=daily, pacing="asap")

    async def body(ledger: Ledger) -> None:
        assert await _fill(ledger, campaign, T0 + 0.01 * DAY, "a") == 1000

    run(prefix, body, day_s=DAY)


class Recorder:
    """Wraps a client to record the keys of every script call."""

    def __init__(self, client: Any) -> None:
        self.client = client
        self.calls: list[list[str]] = []

    def register_script(self, script: str) -> Any:
        inner = self.client.register_script(script)

        async def call(*, keys: list[str], args: list[Any]) -> Any:
            self.calls.append(list(keys))
            return await inner(keys=keys, args=args)

        return call

    async def aclose(self) -> None:
        await self.client.aclose()


def test_every_script_call_keeps_its_keys_in_one_cluster_slot(prefix):
    campaign = spec(42, total_budget_micros=10 * COST, frequency_cap=2, frequency_window_s=60)
    other = spec(43, total_budget_micros=10 * COST)
    recorder = Recorder(make_ledger(prefix).client)

    async def body() -> None:
        ledger = Ledger(recorder, LedgerSettings(prefix=prefix))
        for c in (campaign, other):
            await ledger.reserve(c, bid_id="b1", price_micros=CPM, user_id="user:{odd}", now=T0)
            await ledger.reserve(c, bid_id="b2", price_micros=CPM, user_id=None, now=T0)
            await ledger.settle(claims("b1", c, user_id="user:{odd}"), clearing_micros=CPM, now=T0)
            await ledger.release(claims("b2", c), now=T0)
            await ledger.state(c.id, now=T0)
        await ledger.close()

    asyncio.run(body())
    assert len(recorder.calls) == 10
    slots = [{key_slot(k.encode()) for k in keys} for keys in recorder.calls]
    assert all(len(s) == 1 for s in slots)
    assert slots[0] != slots[5]  # campaigns spread over the slots
    assert all(f"{{c{campaign.id}}}" in k for keys in recorder.calls[:5] for k in keys)


def test_an_unreachable_ledger_is_no_room_and_raises_nothing(prefix):
    from conftest import free_port

    campaign = spec(total_budget_micros=10 * COST)

    async def body() -> None:
        ledger = make_ledger(prefix, f"redis://127.0.0.1:{free_port()}/0")  # nobody listens
        assert not await ledger.reserve(campaign, bid_id="b", price_micros=CPM, user_id=None, now=T0, timeout_s=1)
        with pytest.raises(redis.ConnectionError):  # a notice's caller must know, and retry
            await ledger.settle(claims("b", campaign), clearing_micros=CPM, now=T0)
        await ledger.close()

    asyncio.run(body())


def test_a_ledger_slower_than_the_deadline_is_no_room(prefix):
    silent = socket.socket()  # accepts connections, never answers
    silent.bind(("127.0.0.1", 0))
    silent.listen(8)
    accepted: list[socket.socket] = []
    threading.Thread(target=lambda: accepted.append(silent.accept()[0]), daemon=True).start()
    campaign = spec(total_budget_micros=10 * COST)

    async def body() -> None:
        ledger = make_ledger(prefix, f"redis://127.0.0.1:{silent.getsockname()[1]}/0")
        assert not await ledger.reserve(campaign, bid_id="b", price_micros=CPM, user_id=None, now=T0, timeout_s=0.05)
        await ledger.close()

    try:
        asyncio.run(body())
    finally:
        silent.close()
        for conn in accepted:
            conn.close()


def test_scripts_are_reloaded_after_a_script_flush_and_a_restart(private_redis, prefix, settings):
    settings.HELIOS_LEDGER_STORE = "redis"
    settings.HELIOS_LEDGER_REDIS_URL = f"redis://127.0.0.1:{private_redis.port}/0"
    settings.HELIOS_LEDGER_PREFIX = prefix
    campaign = spec(total_budget_micros=10 * COST)

    async def body() -> None:
        ledger = Ledger.from_settings()  # the production client: one retry on a broken connection
        assert await ledger.reserve(campaign, bid_id="a", price_micros=CPM, user_id=None, now=T0)
        await ledger.client.script_flush()
        assert await ledger.reserve(campaign, bid_id="b", price_micros=CPM, user_id=None, now=T0)
        assert (await ledger.state(campaign.id, now=T0)).reserved_micros == 2 * COST
        private_redis.stop()  # an empty Redis comes back (no persistence here): new connection, scripts loaded anew
        private_redis.start()
        assert await ledger.reserve(campaign, bid_id="c", price_micros=CPM, user_id=None, now=T0)
        assert (await ledger.state(campaign.id, now=T0)).reserved_micros == COST
        await ledger.close()

    asyncio.run(body())


def test_embedded_mode_runs_the_same_scripts_on_fakeredis(settings):
    settings.HELIOS_LEDGER_STORE = "fake"
    campaign = spec(total_budget_micros=2 * COST, frequency_cap=1, frequency_window_s=60)

    async def body() -> None:
        ledger = Ledger.from_settings()
        assert await ledger.reserve(campaign, bid_id="a", price_micros=CPM, user_id="u", now=T0)
        assert not await ledger.reserve(campaign, bid_id="b", price_micros=CPM, user_id="u", now=T0)
        assert await ledger.settle(claims("a", campaign, user_id="u", issued_at=int(T0)), clearing_micros=CPM,
                                   now=T0) == "applied"  # fmt: skip
        state = await ledger.state(campaign.id, now=T0)
        assert (state.spent_micros, state.reserved_micros) == (COST, 0)

    asyncio.run(body())
