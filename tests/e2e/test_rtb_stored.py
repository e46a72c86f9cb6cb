"""RTB decisions stored and shown (SPEC §12: "so §3-§8 store and show them"): `POST /openrtb2/bid`
on the real handler, with the bidder, auction and outcomes roles as real OS processes on Kafka and
PostgreSQL. Each impression is stored once (the bidder passes the RTB request by), as the exchange's
auction pending (a bid) or no_bid, with the decision's campaign, crid, bid id, nbr, privacy and
latency; the REST API filters and counts them."""

import pytest

from outcomes.models import AuctionOutcome
from tests.e2e.harness import wait_for
from tests.e2e.rtb_support import create_campaign, rtb_platform, rtb_post, rtb_request, staff

__all__ = ["rtb_platform", "staff"]  # fixtures

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def test_rtb_decisions_are_stored_once_with_their_fields_and_counted_by_the_api(rtb_platform, staff):
    platform = rtb_platform
    campaign = create_campaign(staff)  # fixed CPM 4.0 on the test site
    platform.start_all()

    def loaded() -> bool:  # the handler's campaign index holds the campaign (before: 204s)
        return "helios_campaign_index_campaigns 1.0" in platform.metrics("handler")

    wait_for(loaded, 30, "the handler to load the campaign")
    assert rtb_post(platform.handler_port, rtb_request("warm-up"))[0] == 200
    status, answer = rtb_post(platform.handler_port, rtb_request("rtb-bid", user={"id": "user-001"}))
    assert status == 200
    [bid] = answer["seatbid"][0]["bid"]
    coppa = rtb_request("rtb-coppa", user={"id": "user-002"}, regs={"coppa": 1})
    coppa["imp"][0]["bidfloor"] = 10.0  # above the campaign's CPM: no bid
    assert rtb_post(platform.handler_port, coppa)[0] == 204
    ids = ["warm-up", "rtb-bid", "rtb-coppa"]
    wait_for(lambda: AuctionOutcome.objects.filter(bid_id__in=ids).count() >= 3, 60, "the RTB outcomes stored")

    stored = AuctionOutcome.objects.get(bid_id="rtb-bid")
    assert (stored.source, stored.campaign_id, stored.creative_id) == ("rtb", campaign, bid["crid"])
    assert (stored.rtb_bid_id, float(stored.bid_price)) == (bid["id"], bid["price"])
    assert (stored.win_status, float(stored.win_price), stored.loss_reason) == (False, 0.0, None)  # pending
    assert (stored.privacy, stored.nbr, stored.user_id) == ("open", None, "user-001")
    assert stored.latency_ms is not None and stored.deadline_ms is not None
    assert 0 <= stored.latency_ms <= stored.deadline_ms
    no_bid = AuctionOutcome.objects.get(bid_id="rtb-coppa")
    assert (no_bid.source, no_bid.nbr, no_bid.loss_reason, no_bid.privacy) == ("rtb", 504, "no_bid", "coppa")
    assert (no_bid.user_id, no_bid.campaign_id, float(no_bid.bid_price)) == (None, None, 0.0)

    listed = staff.get("/api/outcomes/", {"campaign": str(campaign), "source": "rtb"}).json()
    assert {item["bid_id"] for item in listed["results"]} == {"warm-up", "rtb-bid"}
    assert staff.get("/api/outcomes/", {"nbr": "504"}).json()["count"] == 1
    counts = staff.get("/api/outcomes/rtb-stats/").json()
    assert counts == {"outcomes": 3, "bids": 2, "by_privacy": {"coppa": 1, "open": 2}, "by_nbr": {"504": 1}}
    # Each impression once: the bidder priced none of the three RTB requests.
    assert AuctionOutcome.objects.count() == 3
