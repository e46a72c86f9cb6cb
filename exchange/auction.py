"""The simulated exchange's auction of one impression, pure: who wins, the clearing price
(`${AUCTION_PRICE}`), and for every bidder its OpenRTB loss reason (`${AUCTION_LOSS}`) and
`${AUCTION_MIN_TO_WIN}` (OpenRTB 2.6 §4.4.1; SPEC §15).

- Only valid bids at or above the floor compete; the highest wins, ties going to the earlier bid
  (the caller draws the order: `seeded_order`).
- Clearing price: first price, the winner's bid; second price, max(second bid + 0.01, floor),
  never more than the winner's bid (a lone bid clears at the floor, at least 0.01).
- Min to win: for the winner, the next-closest bid, or the floor when it was alone; for every
  other bid the price that would have tied the winner's, i.e. the clearing price (§4.4.1's tables:
  0.91 for the losers of the second-price example). Empty (None) for an invalid bid, and when
  nobody won, the floor.
- Loss codes (OpenRTB 3.0 List: Loss Reason Codes, as OpenRTB 2.6 §4.4 refers): 0 won, 3 invalid
  bid response, 100 bid below the auction floor, 102 lost to a higher bid.
"""

import random
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from enum import IntEnum

FIRST, SECOND = "first", "second"
KINDS = (FIRST, SECOND)
INCREMENT = Decimal("0.01")
CENT = Decimal("0.01")


class Loss(IntEnum):
    WON = 0
    INVALID_BID_RESPONSE = 3
    BELOW_FLOOR = 100
    LOST_TO_HIGHER_BID = 102


@dataclass(frozen=True)
class Offer:
    """One bidder's bid on the impression: `price` (CPM, the auction's currency), None when invalid."""

    bidder: str
    price: Decimal | None


@dataclass(frozen=True)
class Outcome:
    bidder: str
    loss: Loss
    price: Decimal | None  # ${AUCTION_PRICE}: the clearing price for the winner, else None (empty)
    min_to_win: Decimal | None  # ${AUCTION_MIN_TO_WIN}; None: the empty string

    @property
    def won(self) -> bool:
        return self.loss is Loss.WON


@dataclass(frozen=True)
class Result:
    winner: str | None
    clearing: Decimal | None
    outcomes: dict[str, Outcome]


def run_auction(offers: Sequence[Offer], floor: Decimal, kind: str) -> Result:
    """The auction among `offers` (distinct bidders, in tie-break order) at `floor`."""
    if kind not in KINDS:
        raise ValueError(f"auction kind {kind!r} is not one of {KINDS}")
    eligible = sorted(
        (o for o in offers if o.price is not None and o.price >= floor),
        key=lambda o: -o.price if o.price is not None else Decimal(0),
    )  # sorted() is stable: equal prices keep the caller's order
    if not eligible:
        outcomes = {o.bidder: _loser(o, floor, None) for o in offers}
        return Result(None, None, outcomes)
    winner, rest = eligible[0], eligible[1:]
    top = _price(winner)
    runner_up = _price(rest[0]) if rest else None
    clearing = top if kind == FIRST else min(top, max(floor, CENT, (runner_up or Decimal(0)) + INCREMENT))
    outcomes = {o.bidder: _loser(o, floor, clearing) for o in offers if o is not winner}
    outcomes[winner.bidder] = Outcome(winner.bidder, Loss.WON, clearing, runner_up if runner_up is not None else floor)
    return Result(winner.bidder, clearing, outcomes)


def _price(offer: Offer) -> Decimal:
    assert offer.price is not None
    return offer.price


def _loser(offer: Offer, floor: Decimal, clearing: Decimal | None) -> Outcome:
    if offer.price is None:
        return Outcome(offer.bidder, Loss.INVALID_BID_RESPONSE, None, None)
    loss = Loss.BELOW_FLOOR if offer.price < floor else Loss.LOST_TO_HIGHER_BID
    return Outcome(offer.bidder, loss, None, clearing if clearing is not None else floor)


def seeded_order(offers: Sequence[Offer], rng: random.Random) -> list[Offer]:
    """The offers in a drawn order, so that ties go to no bidder in particular."""
    shuffled = list(offers)
    rng.shuffle(shuffled)
    return shuffled


def competitor_prices(rng: random.Random, floor: Decimal, count: int, *, spread: float = 0.35) -> list[Decimal]:
    """`count` synthetic competitors' CPMs, drawn around the floor (1.00 when there is none): a
    log-normal centred 10 % above it, so that some bid under the floor and a few far above."""
    centre = float(floor) if floor > 0 else 1.0
    return [max(CENT, Decimal(str(round(centre * rng.lognormvariate(0.1, spread), 2)))) for _ in range(count)]
