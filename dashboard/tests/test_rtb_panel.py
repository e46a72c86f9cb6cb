"""The dashboard's RTB panel (SPEC §12): bid-path latency, answers past the deadline, no-bid
reasons and bids per campaign, from the publisher's stored rows and from the database."""

from typing import Any

import pytest

from bidding.decision import NoBid
from campaigns.models import Advertiser, Campaign
from dashboard.snapshots import SnapshotPublisher, Totals, snapshot_from_database
from dashboard.snapshots.rtb import HOUSE_NAME, CampaignNames, nbr_reason
from dashboard.snapshots.shape import RTB_HORIZON_S
from outcomes.services import outcome_record_batch
from outcomes.tests.factories import outcome_message, outcome_rows
from pipeline.messages import AuctionOutcomeMessage

T0 = 1_800_000_000.0


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> float:
        return self.now


def rtb(
    *, latency_ms: float = 5.0, deadline_ms: float = 100.0, campaign: int | None = 3, nbr: int | None = None
) -> AuctionOutcomeMessage:
    bid = nbr is None
    return outcome_message(
        source="rtb",
        campaign_id=campaign if bid else None,
        bid_price=1.5 if bid else 0.0,
        nbr=nbr,
        privacy="open",
        latency_ms=latency_ms,
        deadline_ms=deadline_ms,
        won=False,
        loss_reason=None if bid else "no_bid",
    )


def zero_totals() -> Totals:
    return Totals(
        total_outcomes=0,
        total_wins=0,
        total_losses=0,
        win_rate=0.0,
        total_revenue=0.0,
        average_bid_price=0.0,
        average_win_price=0.0,
        enriched_count=0,
    )


def live(clock: Clock, names: dict[int, str] | None = None) -> tuple[SnapshotPublisher, list[dict[str, Any]]]:
    sent: list[dict[str, Any]] = []
    publisher = SnapshotPublisher(
        send=sent.append,
        totals=zero_totals,
        heartbeat_s=1.0,
        clock=clock,
        source="test:1",
        campaign_names=lambda ids: names or {},
    )
    return publisher, sent


def test_the_live_panel_counts_what_this_publisher_stored() -> None:
    clock = Clock()
    publisher, _ = live(clock, {3: "Spring sale", 4: "Autumn"})
    batch = [rtb(latency_ms=float(ms)) for ms in range(1, 98)]  # 1 .. 97 ms, all on time
    batch += [rtb(latency_ms=130.0, deadline_ms=100.0), rtb(latency_ms=140.0, campaign=4)]  # two late
    batch += [rtb(nbr=NoBid.BELOW_FLOOR.nbr), rtb(nbr=NoBid.BELOW_FLOOR.nbr), rtb(nbr=NoBid.NO_CAMPAIGN.nbr)]
    batch += [outcome_message(bid_price=0.85)]  # POST /bid: not in the RTB panel
    publisher.add(outcome_rows(batch))
    snapshot = publisher.tick()
    assert snapshot is not None
    panel = snapshot["rtb"]
    assert (panel["outcomes"], panel["bids"], panel["late"]) == (102, 99, 2)
    # Nearest rank over 102 latencies (1 .. 97, 130, 140 and three no-bids at 5 ms): the 51st is
    # 48 (four 5s before it), the 101st is 130.
    assert (panel["latency_p50_ms"], panel["latency_p99_ms"]) == (48.0, 130.0)
    assert panel["no_bids"] == [
        {"nbr": 500, "reason": "no campaign", "count": 1},
        {"nbr": 504, "reason": "below floor", "count": 2},
    ]
    assert panel["campaigns"] == [
        {"campaign_id": 3, "name": "Spring sale", "bids": 98},
        {"campaign_id": 4, "name": "Autumn", "bids": 1},
    ]
    assert panel["horizon_s"] == RTB_HORIZON_S


def test_the_live_panel_forgets_what_is_older_than_its_horizon() -> None:
    clock = Clock()
    publisher, _ = live(clock)
    publisher.add(outcome_rows([rtb(), rtb()]))
    assert publisher.tick()["rtb"]["outcomes"] == 2  # type: ignore[index]
    clock.now += RTB_HORIZON_S + 1
    panel = publisher.tick()["rtb"]  # type: ignore[index]
    assert (panel["outcomes"], panel["latency_p50_ms"], panel["no_bids"], panel["campaigns"]) == (0, None, [], [])


def test_no_bid_reasons_are_named() -> None:
    assert nbr_reason(NoBid.NO_ROOM.nbr) == "no room"
    assert nbr_reason(2) == "invalid request"  # OpenRTB's own list
    assert nbr_reason(999) == "code 999"


@pytest.mark.django_db
def test_the_initial_panel_is_read_from_the_database_with_campaign_names() -> None:
    advertiser = Advertiser.objects.create(name="Acme", adomain="acme.example")
    campaign = Campaign.objects.create(advertiser=advertiser, name="Acme spring sale")
    outcome_record_batch(
        rows=outcome_rows(
            [
                rtb(campaign=campaign.pk, latency_ms=8.0),
                rtb(campaign=campaign.pk, latency_ms=12.0),
                rtb(campaign=0, latency_ms=150.0),
                rtb(nbr=NoBid.BLOCKED.nbr),
                outcome_message(),
            ]
        )
    )
    panel = snapshot_from_database()["rtb"]
    assert (panel["outcomes"], panel["bids"], panel["late"]) == (4, 3, 1)
    assert (panel["latency_p50_ms"], panel["latency_p99_ms"]) == (8.0, 150.0)
    assert panel["no_bids"] == [{"nbr": 502, "reason": "blocked", "count": 1}]
    assert panel["campaigns"] == [
        {"campaign_id": campaign.pk, "name": "Acme spring sale", "bids": 2},
        {"campaign_id": 0, "name": HOUSE_NAME, "bids": 1},
    ]


@pytest.mark.django_db
def test_campaign_names_are_read_once(django_assert_num_queries: Any) -> None:
    advertiser = Advertiser.objects.create(name="Acme", adomain="acme.example")
    campaign = Campaign.objects.create(advertiser=advertiser, name="Acme spring sale")
    names = CampaignNames()
    with django_assert_num_queries(1):
        assert names([campaign.pk, 0, 12345])[campaign.pk] == "Acme spring sale"
        assert names([campaign.pk, 0])[0] == HOUSE_NAME
        assert names([12345])[12345] == "campaign 12345"  # gone: its id
