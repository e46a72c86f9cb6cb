"""The auction role on the in-process broker: the simulated auction for `POST /bid`, none for an
RTB decision (SPEC §12: the exchange runs that auction; its notices come later, SPEC §14)."""

import msgspec

from auction.consumer import process_bid_response
from auction.rules import AuctionSettings, exchange_pending
from pipeline import topics
from pipeline.messages import AdCreative, AuctionOutcomeMessage, BidResponse, LossReason, encode
from pipeline.runner import build_role
from pipeline.testing import produce, read_all, run_until
from pipeline.transports import LocalTransport

ALWAYS_WINS = AuctionSettings(win_probability=1.0)
CREATIVE = AdCreative(creative_id="cr-1", title="t", image_url="i", landing_url="l", bid_tier="base")


def response(request_id: str, price: float, *, source: str = "helios", nbr: int | None = None) -> BidResponse:
    return BidResponse(
        bid_request_id=request_id,
        imp_id="1",
        received_at="2026-11-26T12:00:00.123Z",
        bid_price=price,
        bid_floor=0.0,
        timestamp="2026-11-26T12:00:00.130Z",
        enriched=False,
        ad_creative=CREATIVE if price > 0 else None,
        source=source,  # type: ignore[arg-type]
        campaign_id=7 if price > 0 else None,
        creative_id="cr-1" if price > 0 else None,
        bid_id=f"{request_id}-b" if price > 0 and source == "rtb" else None,
        price_cpm=price,
        nbr=nbr,
        privacy="open" if source == "rtb" else None,
        latency_ms=4.5 if source == "rtb" else None,
        deadline_ms=100.0 if source == "rtb" else None,
    )


def test_an_rtb_bid_is_pending_the_exchange() -> None:
    outcome = process_bid_response(response("r1", 2.5, source="rtb"), ALWAYS_WINS)
    assert (outcome.win_status, outcome.win_price, outcome.loss_reason) == (False, 0.0, None)
    # Every field of the decision goes on, as the outcomes sink stores it.
    assert (outcome.campaign_id, outcome.creative_id, outcome.bid_id, outcome.price_cpm) == (7, "cr-1", "r1-b", 2.5)
    assert (outcome.privacy, outcome.latency_ms, outcome.deadline_ms) == ("open", 4.5, 100.0)


def test_an_rtb_no_bid_is_no_bid() -> None:
    outcome = process_bid_response(response("r1", 0.0, source="rtb", nbr=504), ALWAYS_WINS)
    assert (outcome.win_status, outcome.win_price, outcome.loss_reason, outcome.nbr) == (False, 0.0, "no_bid", 504)


def test_the_same_bid_from_post_bid_is_auctioned() -> None:
    outcome = process_bid_response(response("r1", 2.5), ALWAYS_WINS)
    assert (outcome.win_status, outcome.win_price, outcome.loss_reason) == (True, 2.5, None)


def test_exchange_pending() -> None:
    assert exchange_pending(bid_price=0.0).loss_reason == LossReason.NO_BID
    assert exchange_pending(bid_price=float("nan")).loss_reason == LossReason.NO_BID
    assert not exchange_pending(bid_price=1.0).win_status


def test_the_role_produces_one_outcome_per_response_of_either_source() -> None:
    transport = LocalTransport(partitions=1)
    role = build_role("auction", transport)
    sent = [response("h1", 1.2), response("r1", 1.2, source="rtb"), response("r2", 0.0, source="rtb", nbr=500)]
    for message in sent:
        produce(transport, topics.BID_RESPONSES, encode(message), message.bid_request_id.encode())

    def outcomes() -> list[AuctionOutcomeMessage]:
        payloads = read_all(transport, topics.AUCTION_OUTCOMES)
        return [msgspec.json.decode(p.value, type=AuctionOutcomeMessage) for p in payloads]

    run_until(role, lambda: len(outcomes()) >= 3)
    by_id = {o.bid_request_id: o for o in outcomes()}
    assert len(outcomes()) == 3
    assert by_id["h1"].source == "helios" and by_id["h1"].loss_reason != "no_bid"  # the simulated auction ran
    assert (by_id["r1"].win_status, by_id["r1"].loss_reason, by_id["r1"].source) == (False, None, "rtb")
    assert (by_id["r2"].loss_reason, by_id["r2"].nbr) == ("no_bid", 500)
