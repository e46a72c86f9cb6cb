"""The ledger against the real Redis (REDIS_URL): budgets, pacing, caps, notices applied once, expiry."""

import asyncio
from collections.abc import Iterator

import pytest
import redis

from campaigns.ledger import Ledger, LedgerSettings
from campaigns.ledger.rules import day_of, day_started_at, pacing_limit, pacing_target
from campaigns.ledger.store import ledger_ready
from campaigns.tests.ledger_support import CPM, claims, prefixed, run, spec

COST = CPM // 1000  # one impression, in micros
T0 = 1_000_000.0  # a day boundary for day_s = 1000 (and for 86400? no: only the tests that care use it)


@pytest.fixture
def prefix() -> Iterator[str]:
    yield from prefixed()


def test_total_budget_refuses_the_impression_that_would_exceed_it_and_settle_spends_the_clearing_price(prefix):
    campaign = spec(total_budget_micros=10 * COST)

    async def body(ledger: Ledger):
        accepted = [await ledger.reserve(campaign, bid_id=f"b{i}", price_micros=CPM, user_id=None, now=T0)
                    for i in range(12)]  # fmt: skip
        assert accepted == [True] * 10 + [False] * 2
        for i in range(5):  # five win at $1.50 CPM: 1,500 micros each, the rest of their reservation freed
            assert await ledger.settle(claims(f"b{i}", campaign, issued_at=int(T0)), clearing_micros=1_500_000,
                                       now=T0 + 1) == "applied"  # fmt: skip
        state = await ledger.state(campaign.id, now=T0 + 1)
        assert (state.spent_micros, state.reserved_micros, state.open_reservations) == (7_500, 10_000, 5)
        # 20,000 - 7,500 - 10,000 = 2,500 left: one more impression, not two
        more = [await ledger.reserve(campaign, bid_id=f"m{i}", price_micros=CPM, user_id=None, now=T0 + 1)
                for i in range(2)]  # fmt: skip
        assert more == [True, False]

    run(prefix, body)


def test_a_cpm_that_does_not_divide_by_a_thousand_reserves_rounded_up(prefix):
    campaign = spec(total_budget_micros=10_000)

    async def body(ledger: Ledger):
        assert await ledger.reserve(campaign, bid_id="b", price_micros=1_234_567, user_id=None, now=T0)
        assert (await ledger.state(campaign.id, now=T0)).reserved_micros == 1_235

    run(prefix, body)


def test_daily_budget_holds_for_the_day_and_the_next_day_has_room_again(prefix):
    campaign = spec(daily_budget_micros=3 * COST, total_budget_micros=100 * COST)

    async def body(ledger: Ledger):
        for i in range(3):
            assert await ledger.reserve(campaign, bid_id=f"a{i}", price_micros=CPM, user_id=None, now=T0 + 10)
            await ledger.settle(claims(f"a{i}", campaign, issued_at=int(T0)), clearing_micros=CPM, now=T0 + 11)
        assert not await ledger.reserve(campaign, bid_id="a3", price_micros=CPM, user_id=None, now=T0 + 20)
        state = await ledger.state(campaign.id, now=T0 + 20)
        assert (state.spent_today_micros, state.spent_micros) == (3 * COST, 3 * COST)
        tomorrow = T0 + 1000 + 1  # day_s = 1000
        assert await ledger.reserve(campaign, bid_id="b0", price_micros=CPM, user_id=None, now=tomorrow)
        state = await ledger.state(campaign.id, now=tomorrow)
        assert (state.spent_today_micros, state.spent_micros, state.reserved_micros) == (0, 3 * COST, COST)

    run(prefix, body, day_s=1000.0)


def test_reservations_without_a_notice_are_released_after_the_window(prefix):
    campaign = spec(total_budget_micros=4 * COST)

    async def body(ledger: Ledger):
        for i in range(4):
            assert await ledger.reserve(campaign, bid_id=f"b{i}", price_micros=CPM, user_id=None, now=T0)
        assert not await ledger.reserve(campaign, bid_id="x", price_micros=CPM, user_id=None, now=T0 + 59)
        assert (await ledger.state(campaign.id, now=T0 + 59)).reserved_micros == 4 * COST
        state = await ledger.state(campaign.id, now=T0 + 60)  # the window is 60 s
        assert (state.reserved_micros, state.open_reservations, state.spent_micros) == (0, 0, 0)
        assert await ledger.reserve(campaign, bid_id="y", price_micros=CPM, user_id=None, now=T0 + 61)

    run(prefix, body, notice_window_s=60.0)


def test_many_expired_reservations_are_released_in_bounded_batches_by_the_next_reserves(prefix):
    campaign = spec(total_budget_micros=100 * COST)

    async def body(ledger: Ledger):
        for i in range(100):
            assert await ledger.reserve(campaign, bid_id=f"b{i}", price_micros=CPM, user_id=None, now=T0)
        later = T0 + 61
        # each reserve releases at most 8 expired ones, so the budget frees up over a few calls
        results = [await ledger.reserve(campaign, bid_id=f"n{i}", price_micros=CPM, user_id=None, now=later)
                   for i in range(20)]  # fmt: skip
        assert all(results)
        state = await ledger.state(campaign.id, now=later)  # state releases every expired one
        assert (state.reserved_micros, state.open_reservations) == (20 * COST, 20)

    run(prefix, body, notice_window_s=60.0, sweep_limit=8)


def test_late_bill_is_spent_and_counted(prefix):
    campaign = spec(total_budget_micros=10 * COST)

    async def body(ledger: Ledger):
        assert await ledger.reserve(campaign, bid_id="b", price_micros=CPM, user_id=None, now=T0)
        late = claims("b", campaign, issued_at=int(T0))
        assert await ledger.settle(late, clearing_micros=CPM, now=T0 + 61) == "late"
        assert await ledger.settle(late, clearing_micros=CPM, now=T0 + 70) == "duplicate"
        state = await ledger.state(campaign.id, now=T0 + 70)
        assert (state.spent_micros, state.reserved_micros, state.late_bills, state.late_micros) == (COST, 0, 1, COST)

    run(prefix, body, notice_window_s=60.0)


def test_settle_and_release_apply_once(prefix):
    campaign = spec(total_budget_micros=10 * COST)

    async def body(ledger: Ledger):
        for bid in ("won", "lost"):
            assert await ledger.reserve(campaign, bid_id=bid, price_micros=CPM, user_id=None, now=T0)
        won, lost = claims("won", campaign, issued_at=int(T0)), claims("lost", campaign, issued_at=int(T0))
        assert [await ledger.settle(won, clearing_micros=CPM, now=T0 + 1) for _ in range(4)] == [
            "applied", "duplicate", "duplicate", "duplicate"]  # fmt: skip
        assert await ledger.release(won, now=T0 + 2) == "duplicate"  # a loss after the bill changes nothing
        assert [await ledger.release(lost, now=T0 + 2) for _ in range(3)] == ["applied", "duplicate", "duplicate"]
        assert await ledger.release(claims("never", campaign), now=T0 + 2) == "none"
        state = await ledger.state(campaign.id, now=T0 + 3)
        assert (state.spent_micros, state.reserved_micros, state.late_bills) == (COST, 0, 0)

    run(prefix, body)


def test_frequency_cap_counts_billed_and_open_impressions_per_user(prefix):
    campaign = spec(frequency_cap=3, frequency_window_s=3600)
    user = "u-1"

    async def reserve(ledger: Ledger, bid: str, user_id: str | None = user) -> bool:
        return await ledger.reserve(campaign, bid_id=bid, price_micros=CPM, user_id=user_id, now=T0)

    async def body(ledger: Ledger):
        for i in range(3):  # three billed impressions
            assert await reserve(ledger, f"b{i}")
            await ledger.settle(claims(f"b{i}", campaign, user_id=user, issued_at=int(T0)), clearing_micros=CPM,
                                now=T0 + 1)  # fmt: skip
        assert not await reserve(ledger, "b3")  # a 4th: capped, in any later call
        assert await reserve(ledger, "other", "u-2")  # another user is not
        assert await reserve(ledger, "nobody", None)  # a restricted request carries no user: no cap check
        # open reservations count too: u-3 may hold 3 at once, not 4; a loss frees one
        held = [await reserve(ledger, f"h{i}", "u-3") for i in range(4)]
        assert held == [True, True, True, False]
        assert await ledger.release(claims("h0", campaign, user_id="u-3"), now=T0 + 1) == "applied"
        assert await reserve(ledger, "h4", "u-3")

    run(prefix, body)


def test_concurrent_reserves_for_one_user_never_pass_the_cap(prefix):
    campaign = spec(frequency_cap=3, frequency_window_s=3600, total_budget_micros=1000 * COST)

    async def body(ledger: Ledger):
        results = await asyncio.gather(*(
            ledger.reserve(campaign, bid_id=f"b{i}", price_micros=CPM, user_id="u", now=T0) for i in range(50)
        ))  # fmt: skip
        assert sum(results) == 3

    run(prefix, body)


def test_campaigns_without_budget_or_cap_never_touch_redis() -> None:
    class NoRedis:
        def register_script(self, script: str):
            async def refuse(**_kwargs):
                raise AssertionError("the house touched Redis")

            return refuse

    ledger = Ledger(NoRedis())
    assert asyncio.run(ledger.reserve(spec(), bid_id="b", price_micros=CPM, user_id="u", now=T0))


def test_readiness_pings_the_ledgers_own_redis(settings) -> None:
    settings.HELIOS_LEDGER_STORE = "redis"
    assert Ledger.from_settings().ready() is True  # HELIOS_LEDGER_REDIS_URL empty: REDIS_URL's, which answers
    settings.HELIOS_LEDGER_REDIS_URL = "redis://127.0.0.1:9/0"  # its own, down
    with pytest.raises(redis.ConnectionError):
        ledger_ready()
    settings.HELIOS_LEDGER_STORE = "fake"  # embedded mode: in the process
    assert ledger_ready() is True


NEW_YORK = LedgerSettings(day_start_s=18_000.0)  # days of 86,400 s from 05:00 UTC: midnight in New York


def test_a_day_start_moves_the_day_boundaries_by_that_much() -> None:
    midnight_utc = 86_400.0 * 20_000  # 2024-10-04T00:00:00Z
    utc = LedgerSettings()
    assert day_of(midnight_utc, utc) == 20_000 and day_started_at(20_000, utc) == midnight_utc
    # in New York it is still the day that began at 05:00 UTC yesterday, until 05:00 UTC today
    assert day_of(midnight_utc, NEW_YORK) == 19_999
    assert day_started_at(19_999, NEW_YORK) == midnight_utc - 86_400 + 18_000
    assert day_of(midnight_utc + 18_000 - 0.001, NEW_YORK) == 19_999
    assert day_of(midnight_utc + 18_000, NEW_YORK) == 20_000
    # a negative start is the same boundaries a day earlier (19:00 UTC): only the day numbers differ
    evening = LedgerSettings(day_start_s=-18_000.0)
    assert day_started_at(day_of(midnight_utc, evening), evening) == midnight_utc - 18_000


def test_the_even_line_counts_the_day_from_its_start() -> None:
    daily = 2_400_000
    start = 86_400.0 * 20_000 + 18_000  # 05:00 UTC: the New York day begins
    assert pacing_target(daily, start, NEW_YORK) == 0
    assert pacing_target(daily, start + 21_600, NEW_YORK) == daily // 4  # 11:00 UTC: a quarter of its day
    assert pacing_target(daily, start - 1, NEW_YORK) == 2_399_972  # the day before, 1 s from its end: 86,399/86,400
    burst = daily // 100  # 1 %: above one impression's cost
    assert pacing_limit(daily, start + 43_200, NEW_YORK, cost=COST) == daily // 2 + burst
    # a ten-minute day that begins at a test's start, not at a multiple of 600 s since the epoch
    test_day = LedgerSettings(day_s=600.0, day_start_s=1_764_892_817.25)
    assert day_of(1_764_892_817.25, test_day) == 0 and day_started_at(0, test_day) == 1_764_892_817.25
    assert [pacing_target(daily, 1_764_892_817.25 + 60 * k, test_day) for k in (1, 5, 9)] == [
        daily // 10, daily // 2, daily * 9 // 10]  # fmt: skip


def test_daily_budget_and_state_follow_a_day_that_begins_off_the_epoch_boundaries(prefix):
    campaign = spec(daily_budget_micros=3 * COST, total_budget_micros=100 * COST, pacing="asap")
    start = T0 + 250  # day_s = 1000 from T0 + 250: not a multiple of 1000 since the epoch

    async def body(ledger: Ledger):
        for i in range(3):
            assert await ledger.reserve(campaign, bid_id=f"a{i}", price_micros=CPM, user_id=None, now=start + 900)
            bill = claims(f"a{i}", campaign, issued_at=int(start + 900))
            assert await ledger.settle(bill, clearing_micros=CPM, now=start + 901) == "applied"
        # T0 + 1000 is an epoch boundary but not this ledger's: still the same day, no room
        assert not await ledger.reserve(campaign, bid_id="a3", price_micros=CPM, user_id=None, now=T0 + 1100)
        state = await ledger.state(campaign.id, now=T0 + 1100)
        assert (state.day_started_at, state.spent_today_micros) == (start, 3 * COST)
        tomorrow = start + 1000  # the day begins 250 s after the epoch's boundary
        assert await ledger.reserve(campaign, bid_id="b0", price_micros=CPM, user_id=None, now=tomorrow)
        state = await ledger.state(campaign.id, now=tomorrow)
        assert (state.day_started_at, state.spent_today_micros, state.spent_micros) == (tomorrow, 0, 3 * COST)

    run(prefix, body, day_s=1000.0, day_start_s=250.0)
