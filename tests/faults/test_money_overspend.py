"""Issue 16's overspend test (SPEC §14, §15): four handler processes bid for one campaign with a
small daily budget while the simulated exchange plays against them at full speed, every win billed
and each billing notice sent three times. The ledger never spends past the budget, spends all of it
but for less than 1 % (no reservation leaked: the notices drained, the dropped answers' reservations
released after the notice window), and its spend is exactly the billed outcome rows' clearing
prices, each bill counted once."""

import time

import pytest

from tests.e2e.harness import wait_for
from tests.faults.money_support import (
    WINDOW_S,
    billed_rows,
    cost_of,
    create_campaign,
    ledger_prefix,
    ledger_state,
    money_platform,
    play,
    start_handlers,
)

__all__ = ["ledger_prefix"]  # fixture

pytestmark = [pytest.mark.slow, pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

DAILY_MICROS = 500_000  # $0.50 a day
CPM = 1.0  # $1 CPM, first price: each billed impression costs 1,000 micros; 500 exhaust the day


def test_four_handlers_at_full_speed_spend_the_daily_budget_and_never_more(topic_prefix, tmp_path, ledger_prefix):
    campaign = create_campaign(daily_budget="0.50", fixed_cpm=CPM, pacing="asap")
    with money_platform(tmp_path, topic_prefix, ledger_prefix) as platform:
        ports = start_handlers(platform, 4)
        summary = play(ports, rate=300, duration_s=25, auction="first", competitors=3, seed=16)
        assert summary["invalid_bids"] == 0 and summary["errors"] == {}
        assert summary["notices_sent"]["bill"] == 3 * summary["wins"]  # every win billed, three times
        assert summary["notice_answers"]["bill"] == {"204": 3 * summary["wins"]}

        def drained() -> bool:  # every notice applied; the dropped answers' reservations released
            money = ledger_state(ledger_prefix, campaign)
            return (
                money.reserved_micros == 0
                and money.open_reservations == 0
                and len(billed_rows(campaign)) == summary["wins"]
            )

        time.sleep(WINDOW_S)
        wait_for(drained, 90, "the notices to drain and the reservations to be released", interval_s=1)
    money, rows = ledger_state(ledger_prefix, campaign), billed_rows(campaign)
    print(f"ledger: spent {money.spent_micros} of {DAILY_MICROS} micros; {len(rows)} billed rows; "
          f"late bills {money.late_bills}; simulator wins {summary['wins']}, spend {summary['spend']}")  # fmt: skip
    assert money.spent_today_micros == money.spent_micros <= DAILY_MICROS  # never past the budget
    assert money.spent_micros >= DAILY_MICROS * 99 // 100  # and all of it, but for less than 1 %
    assert money.late_bills == 0
    assert len({row.rtb_bid_id for row in rows}) == len(rows) == summary["wins"]  # each bill once
    assert sum(cost_of(row) for row in rows) == money.spent_micros  # the rows' clearing prices: the spend
    assert money.spent_micros == round(summary["spend"] * 1_000_000)  # what the exchange charged
