"""Every request the intake answers 202 is stored (issue 14), through every role on the in-process
broker: intake app -> bidder -> auction -> outcomes -> database, as the embedded mode wires them."""

import json

import pytest
from rest_framework.test import APIClient

from bidding import consumer as bidder
from bidding.tests.fakes import DEMO_PROFILES, FakeLookup
from intake.app import create_app
from intake.local import LocalPublisher
from intake.tests.helpers import call
from outcomes.models import AuctionOutcome
from pipeline import topics
from pipeline.runner import build_role
from pipeline.testing import read_all, run_until
from pipeline.transports import LocalTransport

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def transport(monkeypatch: pytest.MonkeyPatch, settings) -> LocalTransport:
    settings.HELIOS_COMMIT_INTERVAL_S = 0
    monkeypatch.setattr(bidder, "make_lookup", lambda: FakeLookup(DEMO_PROFILES))
    return LocalTransport(partitions=1)


def post(transport: LocalTransport, body: dict) -> int:
    result = call(create_app(LocalPublisher(transport)), body=json.dumps(body).encode())
    assert result.status is not None
    return int(result.status)


def run_pipeline(transport: LocalTransport, expected_rows: int) -> None:
    """Runs each role until its output holds what its input implies, then the sink."""
    requests = len(read_all(transport, topics.BID_REQUESTS))
    run_until(build_role("bidder", transport), lambda: len(read_all(transport, topics.BID_RESPONSES)) >= requests)
    responses = len(read_all(transport, topics.BID_RESPONSES))
    run_until(build_role("auction", transport), lambda: len(read_all(transport, topics.AUCTION_OUTCOMES)) >= responses)
    run_until(build_role("outcomes", transport), lambda: AuctionOutcome.objects.count() >= expected_rows)


def ortb(request_id: str, floor: float = 0.1, domain: str = "news.com", user: str = "user-premium") -> dict:
    return {"id": request_id, "imp": [{"id": "1", "bidfloor": floor}], "site": {"domain": domain}, "user": {"id": user}}


def test_two_exchanges_numbering_from_1_are_both_stored(transport, settings):
    assert post(transport, ortb("1", domain="exchange-a.example")) == 202
    assert post(transport, ortb("1", domain="exchange-b.example")) == 202
    run_pipeline(transport, expected_rows=2)
    # The API still finds a request by its id: both requests that used it.
    settings.HELIOS_PUBLIC_API = True
    client = APIClient()
    assert client.get("/api/outcomes/", {"bid_id": "1"}).json()["count"] == 2
    digests = {
        o["request_digest"]
        for o in (client.get(f"/api/outcomes/{row.pk}/").json() for row in AuctionOutcome.objects.all())
    }
    assert len(digests) == 2
    rows = AuctionOutcome.objects.filter(bid_id="1")
    assert sorted(str(domain) for domain in rows.values_list("site_domain", flat=True)) == [
        "exchange-a.example",
        "exchange-b.example",
    ]


def test_different_simple_requests_reusing_an_id_are_both_stored(transport):
    first = {"request_id": "req-7", "user_id": "user-mid", "ad_slots": [{"id": "s1", "min_bid": 0.1}]}
    second = {"request_id": "req-7", "user_id": "user-low", "ad_slots": [{"id": "s1", "min_bid": 0.2}]}
    assert post(transport, first) == post(transport, second) == 202
    run_pipeline(transport, expected_rows=2)
    assert sorted(
        str(user) for user in AuctionOutcome.objects.filter(bid_id="req-7").values_list("user_id", flat=True)
    ) == [
        "user-low",
        "user-mid",
    ]


def test_the_same_request_sent_twice_is_stored_once(transport):
    """A client's retry (e.g. after a 503 whose message Kafka still acknowledged) and a
    re-delivery both carry the same accepted request: one row."""
    body = ortb("dup-1", domain="news.com")
    assert post(transport, body) == post(transport, body) == 202
    run_pipeline(transport, expected_rows=1)
    assert AuctionOutcome.objects.filter(bid_id="dup-1").count() == 1


@pytest.mark.parametrize("floor", [1.20005, 1.20001])
def test_a_floor_is_compared_unrounded(transport, floor):
    """A floor just above 1.20 rounds to 1.2000 at 4 decimals; the premium user's 1.20 bid must
    not clear it."""
    assert post(transport, ortb("floor-1", floor=floor)) == 202
    assert post(transport, ortb("floor-2", floor=1.2)) == 202
    run_pipeline(transport, expected_rows=2)
    above = AuctionOutcome.objects.get(bid_id="floor-1")
    assert above.bid_price == 0
    assert above.raw_data["no_bid_reason"] == "below_floor"
    assert str(above.bid_floor) == "1.2001"  # rounded up, so the stored row is consistent too
    assert str(AuctionOutcome.objects.get(bid_id="floor-2").bid_price) == "1.2000"


@pytest.mark.parametrize(
    "body",
    [
        ortb("big-floor", floor=100_000_000),
        {"request_id": "big-min-bid", "ad_slots": [{"min_bid": 1e9}]},
        ortb("nul\u0000id"),
        ortb("nul-site", domain="news\u0000.com"),
        {"request_id": "nul-user", "user_id": "user\u0000"},
    ],
)
def test_values_the_database_cannot_hold_are_400_not_202(transport, body):
    assert post(transport, body) == 400
    assert read_all(transport, topics.BID_REQUESTS) == []


def test_the_widest_floor_the_database_holds_is_accepted_and_stored(transport):
    assert post(transport, ortb("max-floor", floor=99_999_999.9999)) == 202
    run_pipeline(transport, expected_rows=1)
    assert str(AuctionOutcome.objects.get(bid_id="max-floor").bid_floor) == "99999999.9999"
    assert read_all(transport, topics.dlq(topics.AUCTION_OUTCOMES)) == []


def test_a_stored_profile_with_an_overlong_category_cannot_poison_the_users_outcomes(transport, monkeypatch):
    """A profile written around profile_save (by hand in Redis) is read through the real store."""
    from profiles.store import profile_key
    from profiles.tests.helpers import new_fake_store

    store = new_fake_store()
    raw = {"user_id": "hand", "interests": [{"category": "x" * 65, "score": 0.99}, {"category": "food", "score": 0.8}]}
    store.client.set(profile_key("hand"), json.dumps(raw))
    monkeypatch.setattr(bidder, "make_lookup", lambda: StoreLookup(store))
    assert post(transport, ortb("poison-1", user="hand")) == 202
    run_pipeline(transport, expected_rows=1)
    row = AuctionOutcome.objects.get(bid_id="poison-1")
    assert (row.winning_interest, row.user_interests) == ("food", ["food"])
    assert read_all(transport, topics.dlq(topics.AUCTION_OUTCOMES)) == []


class StoreLookup:
    """The profile server's read path without gRPC: the store's `get_many`."""

    def __init__(self, store) -> None:
        self.store = store

    def batch_get(self, user_ids, *, timeout_s):
        return self.store.get_many(user_ids)
