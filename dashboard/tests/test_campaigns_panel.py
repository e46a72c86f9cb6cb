"""The dashboard's Campaigns panel (issue 16): per active campaign with a daily budget, today's
spend and reservations from the real ledger (Redis, a key prefix of the test's own), the pacing
line, the sampled actual spend, wins, win rate, average clearing CPM and late bills."""

import asyncio
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest

from campaigns.ledger import Ledger
from campaigns.models import Advertiser, Campaign
from campaigns.tests.ledger_support import claims, drop_keys, new_prefix, spec
from dashboard.snapshots import SnapshotPublisher, snapshot_from_database
from dashboard.snapshots.campaigns import CampaignPanels
from dashboard.snapshots.shape import PACING_POINTS, CampaignPacing
from outcomes.notices import notice_record_batch
from outcomes.services import outcome_record_batch
from outcomes.tests.factories import outcome_message, outcome_rows
from pipeline.messages import AuctionNotice, format_time

pytestmark = pytest.mark.django_db

DAY_S = 100.0


@pytest.fixture
def ledger_prefix(settings: Any) -> Iterator[str]:
    prefix = new_prefix()
    settings.HELIOS_NOTICE_LEDGER = "campaigns.ledger.store.Ledger.from_settings"
    settings.HELIOS_LEDGER_STORE = "redis"
    settings.HELIOS_LEDGER_PREFIX = prefix
    settings.HELIOS_LEDGER_DAY_S = DAY_S
    yield prefix
    drop_keys(prefix)


def shown(panels: CampaignPanels, now: float) -> list[CampaignPacing]:
    entries = panels(now)
    assert entries is not None
    return entries


def campaign(name: str, **fields: Any) -> Campaign:
    advertiser, _ = Advertiser.objects.get_or_create(name="Shoes", adomain="shoes.example")
    base = {"status": "active", "pacing": "even", "daily_budget_micros": 1_000_000, "fixed_cpm_micros": 2_000_000}
    return Campaign.objects.create(advertiser=advertiser, name=name, **{**base, **fields})


def spend(c: Campaign, *, reserve: list[str], settle: dict[str, int], now: float) -> None:
    """Reserves a $2 CPM impression per bid id, then settles some at their clearing micros."""
    # asap: the reservations are not held back by the even line (the panel shows it all the same)
    held = spec(c.pk, daily_budget_micros=c.daily_budget_micros, pacing="asap")

    async def run() -> None:
        ledger = Ledger.from_settings()
        try:
            for bid_id in reserve:
                assert await ledger.reserve(held, bid_id=bid_id, price_micros=2_000_000, user_id=None, now=now)
            for bid_id, clearing in settle.items():
                await ledger.settle(claims(bid_id, held, issued_at=int(now)), clearing_micros=clearing, now=now)
        finally:
            await ledger.close()

    asyncio.run(run())


def rtb_bid(c: Campaign, bid_id: str) -> None:
    now = format_time(datetime.now(UTC))
    outcome_record_batch(rows=outcome_rows([outcome_message(
        bid_request_id=f"r-{bid_id}", source="rtb", campaign_id=c.pk, bid_id=bid_id, bid_price=2.0, price_cpm=2.0,
        win_status=False, win_price=0.0, received_at=now)]))  # fmt: skip


def bill(c: Campaign, bid_id: str, clearing: int) -> None:
    notice_record_batch(notices=[AuctionNotice(
        kind="bill", request_id=f"r-{bid_id}", imp_id="1", bid_id=bid_id, campaign_id=c.pk, crid="cr",
        price_micros=2_000_000, issued_at=1, clearing_micros=clearing, received_at=format_time(datetime.now(UTC)))])  # fmt: skip


def test_the_panel_shows_budgeted_active_campaigns_with_their_ledger_and_outcomes(ledger_prefix) -> None:
    spring = campaign("Spring")
    campaign("Paused", status="paused")
    campaign("No daily budget", daily_budget_micros=None)
    now = datetime.now(UTC).timestamp()
    for n in range(4):
        rtb_bid(spring, f"b{n}")
    spend(spring, reserve=["b0", "b1", "b2", "b3"], settle={"b0": 1_500_000, "b1": 1_700_000}, now=now)
    bill(spring, "b0", 1_500_000)
    bill(spring, "b1", 1_700_000)

    [entry] = shown(CampaignPanels(), now)
    assert (entry.campaign_id, entry.name, entry.daily_budget) == (spring.pk, "Spring", 1.0)
    assert entry.spend_today == pytest.approx(0.0032)  # 1.5 + 1.7 CPM, one impression each
    assert entry.reserved == pytest.approx(0.004)  # two $2 CPM impressions still awaiting their notice
    assert (entry.bids, entry.wins, entry.win_rate, entry.average_clearing_cpm) == (4, 2, 50.0, 1.6)
    assert entry.late_bills == 0
    assert entry.day_s == DAY_S and entry.day_started_at <= now < entry.day_started_at + DAY_S
    # The even line: the daily budget times the elapsed share of the day.
    assert entry.pacing_target == pytest.approx((now - entry.day_started_at) / DAY_S, abs=1e-5)
    assert [(p.t, p.spent) for p in entry.history] == [(now, entry.spend_today)]


def test_the_publisher_samples_the_spend_over_the_day_and_forgets_yesterday(ledger_prefix) -> None:
    spring = campaign("Spring")
    panels = CampaignPanels()
    day = (datetime.now(UTC).timestamp() // DAY_S) * DAY_S
    spend(spring, reserve=["a"], settle={"a": 2_000_000}, now=day + 10)
    shown(panels, day + 10)
    spend(spring, reserve=["b"], settle={"b": 3_000_000}, now=day + 20)
    [entry] = shown(panels, day + 20)
    assert [(p.t, p.spent) for p in entry.history] == [(day + 10, 0.002), (day + 20, 0.005)]
    [entry] = shown(panels, day + DAY_S + 1)  # the next day: nothing spent yet, yesterday's samples dropped
    assert entry.day_started_at == day + DAY_S
    assert [(p.t, p.spent) for p in entry.history] == [(day + DAY_S + 1, 0.0)]


def test_the_history_is_bounded_and_gone_campaigns_are_forgotten(ledger_prefix) -> None:
    spring = campaign("Spring")
    panels = CampaignPanels()
    day = (datetime.now(UTC).timestamp() // DAY_S) * DAY_S
    for n in range(PACING_POINTS + 5):
        [entry] = shown(panels, day + n * 0.01)
    assert len(entry.history) == PACING_POINTS and entry.history[-1].t == day + (PACING_POINTS + 4) * 0.01
    Campaign.objects.filter(pk=spring.pk).update(status="paused")
    assert panels(day + 5) == [] and panels._history == {}


def test_live_and_initial_snapshots_carry_the_panel(ledger_prefix) -> None:
    spring = campaign("Spring")
    now = datetime.now(UTC).timestamp()
    spend(spring, reserve=["a"], settle={"a": 2_000_000}, now=now)
    sent: list[dict[str, Any]] = []
    publisher = SnapshotPublisher(send=sent.append, heartbeat_s=1.0, source="test:1")
    live = publisher.tick()
    initial = snapshot_from_database(now=now)
    for snapshot in (live, initial):
        assert snapshot is not None
        [entry] = snapshot["campaigns"]
        assert (entry["name"], entry["spend_today"], entry["daily_budget"]) == ("Spring", 0.002, 1.0)
        assert len(entry["history"]) == 1


def test_the_panel_is_left_out_when_the_figures_cannot_be_read() -> None:
    def broken(campaigns: list[Campaign], *, now: float) -> list[dict[str, Any]]:
        raise RuntimeError("no")

    publisher = SnapshotPublisher(send=lambda _: None, heartbeat_s=1.0, source="t:1",
                                  campaigns=CampaignPanels(campaigns=lambda: [Campaign(pk=1)], stats=broken))  # fmt: skip
    snapshot = publisher.tick()
    assert snapshot is not None and "campaigns" not in snapshot and snapshot["rtb"] is not None
