"""Layer 1-2: `/openrtb2/bid` called in-process, with a fake publisher and a fake profile lookup."""

import gzip
import json
import threading
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import pytest
from msgspec.structs import replace

from bidding.breaker import CircuitBreaker
from bidding.config import BidderSettings
from bidding.creatives import DEFAULT_CATALOG
from bidding.house import house_campaign
from bidding.tests.fakes import FakeLookup, profile
from campaigns.index import CampaignSpec, CreativeSpec, build_index
from intake.app import create_app
from intake.tests.helpers import FakePublisher, call
from pipeline import topics
from pipeline.messages import BidRequest, BidResponse, decode
from profiles.types import Profile
from rtb.answer import Notices
from rtb.app import RtbApp
from rtb.config import RtbSettings
from rtb.lookup import CoalescingLookup
from rtb.tokens import verify

SECRET = b"test-secret"
NOW = datetime.now(UTC)


def creative(
    cid: int, campaign_id: int, media: str = "banner", w: int | None = 300, h: int | None = 250
) -> CreativeSpec:
    return CreativeSpec(id=cid, campaign_id=campaign_id, crid=f"cr-{cid}", media=media, w=w, h=h, title="Shoes",
                        markup="", image_url="https://cdn.example/s.png", landing_url="https://shop.example/",
                        interest_category=None)  # fmt: skip


def campaign(cid: int, cpm: float, **fields: Any) -> CampaignSpec:
    base = replace(house_campaign(DEFAULT_CATALOG), id=cid, key=None, name=f"c{cid}", adomain=f"adv{cid}.example",
                   strategy="fixed", fixed_cpm_micros=round(cpm * 1e6), cat=("IAB18",),
                   creatives=(creative(cid * 10, cid),))  # fmt: skip
    return replace(base, **fields)


SPORTS = campaign(
    1, 2.5, interest_categories=frozenset({"sports"}), min_interest_score=0.5, creatives=(creative(10, 1),)
)
SHOES = campaign(2, 1.5, creatives=(creative(20, 2), creative(21, 2, "video", 640, 480)))


class BlockedLookup(FakeLookup):
    """Answers only once the test releases it."""

    def __init__(self, profiles: Sequence[Profile]) -> None:
        super().__init__(profiles)
        self.release = threading.Event()

    def batch_get(self, user_ids: Sequence[str], *, timeout_s: float) -> dict[str, Profile]:
        self.release.wait(10)
        return super().batch_get(user_ids, timeout_s=timeout_s)


def make(publisher: FakePublisher, lookup: FakeLookup | None = None, campaigns=(SPORTS, SHOES), **config: Any):
    index = build_index(campaigns, version=1, loaded_at=NOW)
    settings = RtbSettings(bidder=BidderSettings(), notices=Notices("https://bid.example", SECRET), **config)
    lookup = lookup if lookup is not None else FakeLookup([profile("fan", ("sports", 0.9))])
    coalescing = CoalescingLookup(lookup, CircuitBreaker(), call_timeout_s=0.05)
    rtb = RtbApp(publisher, coalescing, lambda: index, settings, retry_after_s=2)
    return create_app(publisher, max_body_bytes=65536, max_imps=16, retry_after_s=2, routes={"/openrtb2/bid": rtb})


def request(**fields: Any) -> dict[str, Any]:
    doc: dict[str, Any] = {"id": "r1", "imp": [{"id": "1", "banner": {"w": 300, "h": 250}, "bidfloor": 1.0}],
                           "site": {"domain": "news.example"}, "user": {"id": "fan"},
                           "device": {"ip": "192.0.2.1", "ua": "Mozilla/5.0"}, "tmax": 200}  # fmt: skip
    doc.update(fields)
    return doc


def post(app, doc: Any, headers=None, **kwargs: Any):
    body = doc if isinstance(doc, bytes) else json.dumps(doc).encode()
    return call(app, "POST", "/openrtb2/bid", body, headers, **kwargs)


def events(publisher: FakePublisher) -> tuple[list[BidRequest], list[BidResponse]]:
    requests = [decode(v, BidRequest) for t, _, v in publisher.sent if t == topics.resolved(topics.BID_REQUESTS)]
    responses = [decode(v, BidResponse) for t, _, v in publisher.sent if t == topics.resolved(topics.BID_RESPONSES)]
    return requests, responses


def test_a_known_sports_fan_gets_the_highest_bid_with_notices_and_its_events_recorded() -> None:
    publisher = FakePublisher()
    result = post(make(publisher), request())
    assert result.status == 200
    assert result.headers["x-openrtb-version"] == "2.6"
    body = result.json()
    assert body["id"] == "r1" and body["cur"] == "USD"
    [seatbid] = body["seatbid"]
    [bid] = seatbid["bid"]
    assert seatbid["seat"] == "helios"
    assert (bid["impid"], bid["price"], bid["crid"], bid["cid"], bid["mtype"]) == ("1", 2.5, "cr-10", "1", 1)
    assert (bid["w"], bid["h"], bid["adomain"], bid["cat"]) == (300, 250, ["adv1.example"], ["IAB18"])
    assert 'src="https://cdn.example/s.png"' in bid["adm"]
    assert bid["nurl"].startswith("https://bid.example/notice/win?t=") and "${AUCTION_PRICE}" in bid["nurl"]
    assert "${AUCTION_LOSS}" in bid["lurl"] and bid["burl"].startswith("https://bid.example/notice/bill?t=")
    token = bid["nurl"].split("t=", 1)[1].split("&", 1)[0]
    claims = verify(token, SECRET, now=int(time.time()), max_age_s=60)
    assert (claims.bid_id, claims.campaign_id, claims.price_micros, claims.user_id) == (bid["id"], 1, 2_500_000, "fan")
    [req], [resp] = events(publisher)
    assert (req.source, req.request_id, req.user_id, req.device_ip, req.privacy) == (
        "rtb",
        "r1",
        "fan",
        "192.0.2.1",
        "open",
    )
    assert (resp.source, resp.campaign_id, resp.creative_id, resp.bid_id) == ("rtb", 1, "cr-10", bid["id"])
    assert resp.price_cpm == resp.bid_price == 2.5 and resp.enriched and resp.nbr is None
    assert resp.latency_ms is not None and resp.deadline_ms == 100.0


def test_an_unknown_user_gets_the_contextual_campaign_and_a_video_imp_its_video_creative() -> None:
    publisher = FakePublisher()
    doc = request(user={"id": "stranger"}, imp=[{"id": "1", "banner": {"w": 300, "h": 250}},
                                                {"id": "2", "video": {"w": 640, "h": 480}}])  # fmt: skip
    bids = post(make(publisher), doc).json()["seatbid"][0]["bid"]
    assert [(b["impid"], b["cid"], b["crid"], b["mtype"]) for b in bids] == [
        ("1", "2", "cr-20", 1),
        ("2", "2", "cr-21", 2),
    ]


def test_no_bid_is_204_with_an_empty_body_and_its_events_carry_the_nbr() -> None:
    publisher = FakePublisher()
    result = post(make(publisher), request(imp=[{"id": "1", "banner": {"w": 728, "h": 90}}]))
    assert (result.status, result.body, result.headers["x-openrtb-version"]) == (204, b"", "2.6")
    _, [resp] = events(publisher)
    assert (resp.bid_price, resp.nbr, resp.no_bid_reason) == (0.0, 501, "no_creative")


@pytest.mark.parametrize(
    ("regs", "device", "user"),
    [
        ({"coppa": 1}, {}, {}),
        ({"gdpr": 1}, {}, {"consent": "not-a-tc-string"}),
        ({"ext": {"gdpr": 1}}, {}, {}),
        ({"us_privacy": "1YYN"}, {}, {}),
        ({"ext": {"gpc": 1}}, {}, {}),
        ({}, {"lmt": 1}, {}),
    ],
    ids=["coppa", "gdpr-no-consent", "gdpr-2.5-ext", "us-privacy-opt-out", "gpc", "lmt"],
)
def test_a_restricted_request_makes_no_lookup_and_records_no_user_ip_or_ua(regs, device, user) -> None:
    publisher, lookup = FakePublisher(), FakeLookup([profile("fan", ("sports", 0.9))])
    doc = request(regs=regs, device={"ip": "192.0.2.1", "ua": "UA", **device}, user={"id": "fan", **user})
    bids = post(make(publisher, lookup), doc).json()["seatbid"][0]["bid"]
    assert lookup.calls == []
    assert bids[0]["cid"] == "2"  # contextual: the interest-targeted campaign does not bid
    assert (
        verify(bids[0]["nurl"].split("t=")[1].split("&")[0], SECRET, now=int(time.time()), max_age_s=60).user_id is None
    )
    [req], [resp] = events(publisher)
    assert (req.user_id, req.device_ip, req.device_ua, resp.user_id) == (None, None, None, None)
    assert req.privacy != "open" and resp.privacy == req.privacy and not resp.enriched


def test_a_lookup_slower_than_its_deadline_gives_an_unenriched_bid_on_time() -> None:
    publisher, lookup = FakePublisher(), BlockedLookup([profile("fan", ("sports", 0.9))])
    result = post(make(publisher, lookup), request())
    assert not lookup.release.is_set()  # answered while the lookup was still waiting
    lookup.release.set()
    assert result.status == 200 and result.json()["seatbid"][0]["bid"][0]["cid"] == "2"
    assert not events(publisher)[1][0].enriched


def test_a_bid_whose_events_are_not_acknowledged_before_the_deadline_is_a_204() -> None:
    publisher = FakePublisher(ack=False)
    assert post(make(publisher), request(tmax=40)).status == 204
    assert len(publisher.sent) == 2  # produced all the same: the exchange just gets no bid


def test_a_full_producer_queue_is_a_204_and_an_unreachable_broker_a_503() -> None:
    assert post(make(FakePublisher(fail="queue_full")), request()).status == 204
    result = post(make(FakePublisher(reachable=False)), request())
    assert (result.status, result.headers["retry-after"]) == (503, "2")


def test_gzip_both_ways() -> None:
    publisher = FakePublisher()
    body = gzip.compress(json.dumps(request()).encode())
    result = post(make(publisher), body, [("content-encoding", "gzip"), ("accept-encoding", "gzip, deflate")])
    assert result.status == 200 and result.headers["content-encoding"] == "gzip"
    assert json.loads(gzip.decompress(result.body))["id"] == "r1"


@pytest.mark.parametrize(
    ("body", "headers", "status"),
    [
        (b"{not json", None, 400),
        (json.dumps({"id": "r1", "imp": []}).encode(), None, 400),
        (json.dumps({"id": "r1", "imp": [{"id": "1", "bidfloor": -1}]}).encode(), None, 400),
        (b"plain", [("content-encoding", "gzip")], 400),
        (gzip.compress(b" " * 70_000), [("content-encoding", "gzip")], 413),
    ],
    ids=["not-json", "no-imp", "negative-floor", "not-gzip", "gzip-bomb"],
)
def test_bad_requests_are_refused_with_the_reason_and_nothing_is_produced(body, headers, status) -> None:
    publisher = FakePublisher()
    result = post(make(publisher), body, headers)
    assert result.status == status and publisher.sent == []
    if status == 400:
        assert result.json()["error"] == "invalid_request"


def test_other_methods_and_media_types() -> None:
    publisher = FakePublisher()
    assert call(make(publisher), "GET", "/openrtb2/bid").status == 405
    assert post(make(publisher), request(), content_type="text/plain").status == 415


def test_a_tmax_shorter_than_the_network_allowance_is_answered_at_once_without_a_bid() -> None:
    publisher = FakePublisher()
    assert post(make(publisher), request(tmax=15)).status == 204
