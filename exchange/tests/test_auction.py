"""The simulated exchange's auction (exchange/auction.py): OpenRTB 2.6 §4.4.1's example tables as a
golden test, then ties, lone bids, floors, competitors and loss codes."""

import random
from decimal import Decimal

import pytest

from exchange.auction import FIRST, SECOND, Loss, Offer, competitor_prices, run_auction, seeded_order

D = Decimal

# OpenRTB 2.6 §4.4.1: "assume an auction with a floor price of $0.85, and that each row is a competing
# bid" (None: "Invalid"); per row ${AUCTION_PRICE} (None: "Empty string"/"n/a") and ${AUCTION_MIN_TO_WIN}.
FLOOR = D("0.85")
GOLDEN = {
    FIRST: [
        (D("1.00"), D("1.00"), D("0.90")),
        (D("0.90"), None, D("1.00")),
        (D("0.80"), None, D("1.00")),
        (None, None, None),
    ],
    SECOND: [  # "the clearing price is the second-best price plus $0.01"
        (D("1.00"), D("0.91"), D("0.90")),
        (D("0.90"), None, D("0.91")),
        (D("0.80"), None, D("0.91")),
        (None, None, None),
    ],
}


@pytest.mark.parametrize("kind", [FIRST, SECOND])
@pytest.mark.parametrize("row", range(4))
def test_the_openrtb_4_4_1_table_row_by_row(kind, row):
    offers = [Offer(f"bidder-{n}", bid) for n, (bid, _, _) in enumerate(GOLDEN[kind])]
    for order in (offers, offers[::-1], offers[1:] + offers[:1]):  # whoever asks first
        result = run_auction(order, FLOOR, kind)
        _, price, min_to_win = GOLDEN[kind][row]
        outcome = result.outcomes[f"bidder-{row}"]
        assert (outcome.price, outcome.min_to_win) == (price, min_to_win)
        assert result.winner == "bidder-0" and result.clearing == GOLDEN[kind][0][1]


@pytest.mark.parametrize("kind", [FIRST, SECOND])
def test_the_table_s_loss_codes(kind):
    result = run_auction([Offer(str(n), bid) for n, (bid, _, _) in enumerate(GOLDEN[kind])], FLOOR, kind)
    assert [result.outcomes[str(n)].loss for n in range(4)] == [
        Loss.WON, Loss.LOST_TO_HIGHER_BID, Loss.BELOW_FLOOR, Loss.INVALID_BID_RESPONSE,
    ]  # fmt: skip
    assert [int(result.outcomes[str(n)].loss) for n in range(4)] == [0, 102, 100, 3]  # OpenRTB's numbers


@pytest.mark.parametrize("kind", [FIRST, SECOND])
def test_a_tie_goes_to_the_earlier_bid_and_clears_at_the_tied_price(kind):
    a, b = Offer("a", D("2.00")), Offer("b", D("2.00"))
    for first, second in ((a, b), (b, a)):
        result = run_auction([first, second, Offer("c", D("1.00"))], D("0.50"), kind)
        assert result.winner == first.bidder and result.clearing == D("2.00")
        assert result.outcomes[first.bidder].min_to_win == D("2.00")  # tie with the next-closest bid
        loser = result.outcomes[second.bidder]
        assert (loser.loss, loser.price, loser.min_to_win) == (Loss.LOST_TO_HIGHER_BID, None, D("2.00"))


def test_second_price_is_the_second_bid_plus_a_cent_never_under_the_floor_nor_over_the_winner():
    assert run_auction([Offer("a", D("3.00")), Offer("b", D("1.20"))], D("0.50"), SECOND).clearing == D("1.21")
    # the runner-up is under the floor: it does not count, the floor does
    assert run_auction([Offer("a", D("3.00")), Offer("b", D("0.40"))], D("0.50"), SECOND).clearing == D("0.50")
    # second + 0.01 would pass the winner's own bid: capped at it
    assert run_auction([Offer("a", D("1.005")), Offer("b", D("1.00"))], D("0"), SECOND).clearing == D("1.005")


@pytest.mark.parametrize(("kind", "clearing"), [(FIRST, D("2.50")), (SECOND, D("0.85"))])
def test_a_lone_bid_wins_at_its_price_or_the_floor_and_its_min_to_win_is_the_floor(kind, clearing):
    result = run_auction([Offer("only", D("2.50"))], FLOOR, kind)
    outcome = result.outcomes["only"]
    assert (result.winner, outcome.loss, outcome.price, outcome.min_to_win) == ("only", Loss.WON, clearing, FLOOR)


def test_a_lone_second_price_bid_without_a_floor_pays_a_cent():
    assert run_auction([Offer("only", D("2.50"))], D("0"), SECOND).clearing == D("0.01")


def test_a_bid_at_the_floor_competes_and_one_below_it_loses_with_100():
    result = run_auction([Offer("at", FLOOR), Offer("under", D("0.84"))], FLOOR, FIRST)
    assert result.winner == "at" and result.outcomes["under"].loss == Loss.BELOW_FLOOR


def test_nobody_wins_when_every_bid_is_under_the_floor_or_invalid():
    result = run_auction([Offer("a", D("0.10")), Offer("b", None)], D("0.50"), SECOND)
    assert result.winner is None and result.clearing is None
    assert (result.outcomes["a"].loss, result.outcomes["a"].min_to_win) == (Loss.BELOW_FLOOR, D("0.50"))
    assert (result.outcomes["b"].loss, result.outcomes["b"].min_to_win) == (Loss.INVALID_BID_RESPONSE, None)


def test_an_unknown_auction_kind_is_refused():
    with pytest.raises(ValueError, match="third"):
        run_auction([Offer("a", D(1))], D(0), "third")


def test_competitors_are_seeded_positive_cents_around_the_floor():
    draw = competitor_prices(random.Random(5), D("2.00"), 2000)
    assert draw == competitor_prices(random.Random(5), D("2.00"), 2000)  # the same seed, the same bidders
    assert all(p >= D("0.01") and p == p.quantize(D("0.01")) for p in draw)
    under = sum(p < D("2.00") for p in draw) / len(draw)
    assert 0.2 < under < 0.6  # some under the floor, most above
    assert D("1.8") < sorted(draw)[len(draw) // 2] < D("2.6")  # centred near it
    assert D("0.5") < sorted(competitor_prices(random.Random(5), D(0), 101))[50] < D("1.6")  # no floor: around 1


def test_competitors_against_helios_the_highest_valid_bid_always_wins():
    rng = random.Random(11)
    for _ in range(500):
        floor = D(str(rng.choice((0, 0.5, 1.5))))
        offers = [Offer(f"c{k}", p) for k, p in enumerate(competitor_prices(rng, floor, 3))]
        offers.append(Offer("helios", D(str(round(rng.uniform(0.1, 4), 2)))))
        result = run_auction(seeded_order(offers, rng), floor, SECOND)
        eligible = [o for o in offers if o.price is not None and o.price >= floor]
        if not eligible:
            assert result.winner is None
            continue
        top = max(o.price for o in eligible if o.price is not None)
        assert result.winner is not None and result.clearing is not None
        assert result.outcomes[result.winner].price == result.clearing
        assert next(o for o in eligible if o.bidder == result.winner).price == top
        assert floor <= result.clearing <= top or (floor == 0 and result.clearing >= D("0.01"))
        for o in offers:
            outcome = result.outcomes[o.bidder]
            if o.bidder != result.winner:
                assert o.price is not None
                assert outcome.loss == (Loss.BELOW_FLOOR if o.price < floor else Loss.LOST_TO_HIGHER_BID)
                assert outcome.min_to_win == result.clearing
