"""`GET /api/campaigns/{id}/stats/` (SPEC §13): the ledger's money (a fake ledger here) and the
campaign's stored RTB outcomes of the day."""

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from rest_framework.test import APIClient

from auction.tests.fakes import SHARED
from campaigns.models import Advertiser, Campaign
from outcomes.notices import notice_record_batch
from outcomes.services import outcome_record_batch
from outcomes.tests.factories import outcome_message, outcome_rows
from pipeline.messages import AuctionNotice, format_time

pytestmark = pytest.mark.django_db


@pytest.fixture
def api(settings: Any) -> APIClient:
    settings.HELIOS_PUBLIC_API = True
    return APIClient()


@pytest.fixture
def campaign() -> Campaign:
    advertiser = Advertiser.objects.create(name="Shoes", adomain="shoes.example")
    return Campaign.objects.create(advertiser=advertiser, name="Spring", status="active", pacing="even",
                                   total_budget_micros=100_000_000, daily_budget_micros=10_000_000)  # fmt: skip


def bid(campaign_id: int, bid_id: str, price: float = 2.0, at: datetime | None = None) -> None:
    now = format_time(at or datetime.now(UTC))
    message = outcome_message(bid_request_id=f"r-{bid_id}", source="rtb", campaign_id=campaign_id, bid_id=bid_id,
                              bid_price=price, price_cpm=price, win_status=False, win_price=0.0, received_at=now)  # fmt: skip
    outcome_record_batch(rows=outcome_rows([message]))


def bill(campaign_id: int, bid_id: str, clearing: int) -> None:
    notice = AuctionNotice(kind="bill", request_id=f"r-{bid_id}", imp_id="1", bid_id=bid_id, campaign_id=campaign_id,
                           crid="cr", price_micros=2_000_000, issued_at=1, clearing_micros=clearing,
                           received_at=format_time(datetime.now(UTC)))  # fmt: skip
    notice_record_batch(notices=[notice])


def test_campaign_stats_from_the_outcomes_without_a_ledger(api, campaign, settings) -> None:
    settings.HELIOS_NOTICE_LEDGER = ""
    for n in range(4):
        bid(campaign.pk, f"b{n}")
    bill(campaign.pk, "b0", 1_500_000)
    bill(campaign.pk, "b1", 1_700_000)
    stats = api.get(f"/api/campaigns/{campaign.pk}/stats/").json()
    assert (stats["bids"], stats["wins"], stats["win_rate"], stats["billed"]) == (4, 2, 50.0, 2)
    assert (stats["average_clearing_cpm"], stats["billed_spend"]) == (1.6, 0.0032)
    assert (stats["total_budget"], stats["daily_budget"], stats["pacing"]) == (100.0, 10.0, "even")
    assert stats["spend_today"] is None and stats["reserved"] is None  # no ledger to ask
    assert api.get("/api/campaigns/999999/stats/").status_code == 404
    assert api.get("/api/campaigns/x/stats/").status_code == 404


def test_without_a_ledger_the_day_is_the_ledgers_day_from_its_start(api, campaign, settings) -> None:
    settings.HELIOS_NOTICE_LEDGER = ""
    now = datetime.now(UTC)
    began = now - timedelta(minutes=10)  # an hour-long day that began ten minutes ago, not on the hour
    settings.HELIOS_LEDGER_DAY_S, settings.HELIOS_LEDGER_DAY_START_S = 3600.0, began.timestamp() % 3600
    bid(campaign.pk, "yesterday", at=now - timedelta(minutes=20))
    bid(campaign.pk, "today", at=now - timedelta(minutes=5))
    stats = api.get(f"/api/campaigns/{campaign.pk}/stats/").json()
    assert stats["bids"] == 1
    assert datetime.fromisoformat(stats["day_started_at"]).timestamp() == pytest.approx(began.timestamp(), abs=0.01)


def test_campaign_stats_take_spend_reserved_and_pacing_from_the_ledger(api, campaign, settings) -> None:
    settings.HELIOS_NOTICE_LEDGER = "auction.tests.fakes.shared_ledger"
    SHARED.__init__()  # type: ignore[misc]
    SHARED.reserved, SHARED.pacing_target = 4_000, 2_500_000
    SHARED._apply("settle", "b0", 1_500_000)
    stats = api.get(f"/api/campaigns/{campaign.pk}/stats/").json()
    assert (stats["spend_today"], stats["reserved"], stats["pacing_target"], stats["pacing_actual"]) == (
        0.0015, 0.004, 2.5, 0.0015,
    )  # fmt: skip
    assert stats["open_reservations"] == 1 and stats["late_bills"] == 0
