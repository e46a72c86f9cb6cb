"""Layer 2: `/openrtb2/bid` with the ledger (in-process: the ledger's own scripts on fakeredis + Lua)."""

import asyncio
from typing import Any

import fakeredis
import redis.asyncio
from msgspec.structs import replace

from bidding.breaker import CircuitBreaker
from bidding.config import BidderSettings
from bidding.tests.fakes import FakeLookup, profile
from campaigns.index import build_index
from campaigns.ledger import Ledger, LedgerSettings
from intake.app import create_app
from intake.tests.helpers import FakePublisher
from rtb.answer import Notices
from rtb.app import RtbApp
from rtb.budget import BidBudget
from rtb.config import RtbSettings
from rtb.lookup import CoalescingLookup
from rtb.tests.test_app import NOW, SECRET, SHOES, SPORTS, events, post, request

COST_SPORTS = 2_500  # $2.50 CPM: one impression


def make(publisher: FakePublisher, ledger: Any, campaigns=(SPORTS, SHOES), **config: Any):
    index = build_index(campaigns, version=1, loaded_at=NOW)
    settings = RtbSettings(bidder=BidderSettings(), notices=Notices("https://bid.example", SECRET), **config)
    lookup = CoalescingLookup(FakeLookup([profile("fan", ("sports", 0.9))]), CircuitBreaker(), call_timeout_s=0.05)
    budget = BidBudget(ledger, ack_reserve_s=settings.ack_reserve_ms / 1000)
    rtb = RtbApp(publisher, lookup, lambda: index, settings, retry_after_s=2, budget=budget)

    async def answer_then_drain(scope: Any, receive: Any, send: Any) -> None:
        await rtb(scope, receive, send)
        await budget.drain()  # each test call's event loop ends with the call: let releases finish first

    routes = {"/openrtb2/bid": answer_then_drain}
    return create_app(publisher, max_body_bytes=65536, max_imps=16, retry_after_s=2, routes=routes)


def fake_ledger() -> Ledger:
    ledger = Ledger(fakeredis.FakeAsyncRedis(server=fakeredis.FakeServer()), LedgerSettings(prefix="HELIOS_i16l"))
    asyncio.run(ledger.state(0, now=0))  # loads the scripts (and Lua itself) before a request's deadline runs
    return ledger


def state(ledger: Ledger, campaign_id: int):
    return asyncio.run(ledger.state(campaign_id, now=NOW.timestamp()))


def test_a_campaign_out_of_budget_gives_way_to_the_next_candidate() -> None:
    ledger = fake_ledger()
    sports = replace(SPORTS, total_budget_micros=COST_SPORTS)  # room for one impression
    app = make(publisher := FakePublisher(), ledger, campaigns=(sports, SHOES))
    first = post(app, request()).json()["seatbid"][0]["bid"][0]
    second = post(app, request()).json()["seatbid"][0]["bid"][0]
    assert (first["cid"], second["cid"]) == ("1", "2")
    assert state(ledger, 1).reserved_micros == COST_SPORTS
    _, responses = events(publisher)
    assert [r.campaign_id for r in responses] == [1, 2] and responses[0].bid_id == first["id"]


def test_no_candidate_with_room_is_a_204_with_nbr_505() -> None:
    ledger = fake_ledger()
    capped = (replace(SPORTS, frequency_cap=1, frequency_window_s=60), replace(SHOES, total_budget_micros=0))
    app = make(publisher := FakePublisher(), ledger, campaigns=capped)
    assert post(app, request()).status == 200
    assert post(app, request()).status == 204  # the fan holds SPORTS' one impression; SHOES has no budget
    _, responses = events(publisher)
    assert (responses[1].nbr, responses[1].no_bid_reason, responses[1].campaign_id) == (505, "no_room", None)


def test_an_unreachable_ledger_is_no_bid_answered_in_time() -> None:
    dead = Ledger(
        redis.asyncio.Redis(host="127.0.0.1", port=1, socket_connect_timeout=0.5, socket_timeout=0.5),
        LedgerSettings(prefix="HELIOS_i16l"),
    )
    limited = (replace(SPORTS, daily_budget_micros=10**9), replace(SHOES, daily_budget_micros=10**9))
    result = post(make(publisher := FakePublisher(), dead, campaigns=limited), request())
    assert result.status == 204
    assert events(publisher)[1][0].nbr == 505


def test_the_house_and_unlimited_campaigns_bid_without_the_ledger() -> None:
    dead = Ledger(redis.asyncio.Redis(host="127.0.0.1", port=1), LedgerSettings(prefix="HELIOS_i16l"))
    assert post(make(FakePublisher(), dead), request()).json()["seatbid"][0]["bid"][0]["cid"] == "1"


def test_a_bid_answered_204_for_want_of_an_acknowledgement_releases_its_reservation() -> None:
    ledger = fake_ledger()
    sports = replace(SPORTS, total_budget_micros=COST_SPORTS)
    # Deadlines a loaded machine meets (the reservation must be made in time for the test to mean anything).
    unacked = make(FakePublisher(ack=False), ledger, campaigns=(sports, SHOES), deadline_cap_ms=5000)
    assert post(unacked, request(tmax=320)).status == 204  # held its reservation until the deadline: 300 ms
    assert state(ledger, 1).reserved_micros == 0
    acked = make(FakePublisher(), ledger, campaigns=(sports, SHOES), deadline_cap_ms=5000)
    assert post(acked, request(tmax=2000)).json()["seatbid"][0]["bid"][0]["cid"] == "1"  # its room is back
