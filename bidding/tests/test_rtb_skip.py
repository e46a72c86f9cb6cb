"""The bidder and `POST /openrtb2/bid` (SPEC §12): the handler decides RTB requests itself, so the
bidder passes them by, and records the campaign decision's fields on the requests it prices."""

import msgspec
import pytest

from bidding import consumer
from bidding.breaker import CircuitBreaker
from bidding.config import BidderSettings
from bidding.consumer import process_bid_requests
from bidding.decision import NoBid
from bidding.house import HOUSE_ID
from bidding.tests.fakes import DEMO_PROFILES, FakeLookup, request
from pipeline import topics
from pipeline.messages import BidRequest, BidResponse, encode
from pipeline.runner import BuiltRole, build_role
from pipeline.testing import committed, produce, read_all, run_for, run_until
from pipeline.transports import LocalTransport

CONFIG = BidderSettings(profile_deadline_s=0.05)


def rtb(request_id: str, user_id: str | None = "user-premium") -> BidRequest:
    return msgspec.structs.replace(request(request_id, user_id, 0.1), source="rtb", privacy="open")


@pytest.fixture
def lookup() -> FakeLookup:
    return FakeLookup(DEMO_PROFILES)


@pytest.fixture
def breaker() -> CircuitBreaker:
    return CircuitBreaker()


def test_rtb_requests_get_no_response_and_no_lookup(lookup: FakeLookup, breaker: CircuitBreaker) -> None:
    assert process_bid_requests([rtb("r1"), rtb("r2")], lookup=lookup, breaker=breaker, config=CONFIG) == []
    assert lookup.calls == []


def test_a_mixed_batch_prices_only_the_others(lookup: FakeLookup, breaker: CircuitBreaker) -> None:
    batch = [rtb("rtb-1", "user-mid"), request("helios-1", "user-premium"), rtb("rtb-2")]
    batch.append(msgspec.structs.replace(request("openrtb-1", "user-standard"), source="openrtb"))
    responses = process_bid_requests(batch, lookup=lookup, breaker=breaker, config=CONFIG)
    assert [(r.bid_request_id, r.source) for r in responses] == [("helios-1", "helios"), ("openrtb-1", "openrtb")]
    assert [ids for ids, _ in lookup.calls] == [["user-premium", "user-standard"]]  # not the RTB users


def test_a_bid_records_its_campaign_creative_and_cpm(lookup: FakeLookup, breaker: CircuitBreaker) -> None:
    [response] = process_bid_requests([request("r1", "user-premium")], lookup=lookup, breaker=breaker, config=CONFIG)
    assert response.ad_creative is not None
    assert response.campaign_id == HOUSE_ID  # no campaign index in this process: the built-in house
    assert response.creative_id == response.ad_creative.creative_id
    assert response.price_cpm == response.bid_price == 1.2
    assert (response.nbr, response.bid_id, response.source) == (None, None, "helios")
    assert (response.privacy, response.latency_ms, response.deadline_ms) == (None, None, None)


def test_a_no_bid_records_its_openrtb_code(lookup: FakeLookup, breaker: CircuitBreaker) -> None:
    batch = [request("r1", "user-mid", 0.7, (0.1, "EUR"))]
    below, currency = process_bid_requests(batch, lookup=lookup, breaker=breaker, config=CONFIG)
    assert (below.no_bid_reason, below.nbr) == ("below_floor", NoBid.BELOW_FLOOR.nbr)
    assert (currency.no_bid_reason, currency.nbr) == ("currency", NoBid.CURRENCY.nbr)
    for response in (below, currency):
        assert (response.campaign_id, response.creative_id, response.price_cpm) == (None, None, 0.0)


def test_the_role_commits_past_rtb_requests_without_producing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(consumer, "make_lookup", lambda: FakeLookup(DEMO_PROFILES))
    transport = LocalTransport(partitions=1)
    role: BuiltRole = build_role("bidder", transport)
    for message in (rtb("rtb-1"), rtb("rtb-2"), rtb("rtb-3")):
        produce(transport, topics.BID_REQUESTS, encode(message), message.request_id.encode())
    # Only RTB requests on the partition: nothing to produce, and still their offsets move on.
    run_for(role, 0.5)
    role.shutdown()
    role.run()
    assert read_all(transport, topics.BID_RESPONSES) == []
    assert committed(transport, "bidder") == 3


def test_the_role_prices_what_follows_rtb_requests(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(consumer, "make_lookup", lambda: FakeLookup(DEMO_PROFILES))
    transport = LocalTransport(partitions=1)
    role = build_role("bidder", transport)
    for message in (rtb("rtb-1"), request("helios-1", "user-mid"), rtb("rtb-2")):
        produce(transport, topics.BID_REQUESTS, encode(message), message.request_id.encode())
    run_until(role, lambda: committed(transport, "bidder") == 3)
    out = [msgspec.json.decode(p.value, type=BidResponse) for p in read_all(transport, topics.BID_RESPONSES)]
    assert [(r.bid_request_id, r.bid_price) for r in out] == [("helios-1", 0.6)]
