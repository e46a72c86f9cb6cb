"""The auction rule (SPEC §6), pure: no I/O, no Django.

A bid wins when its price is above the threshold and a draw falls under the win probability. The
draw is a hash of (seed, request id, imp id), so the same message always gets the same outcome:
re-processing after a crash cannot change a result.

A bid made through `POST /openrtb2/bid` (SPEC §12) is auctioned by the exchange, not here: its
outcome is pending the exchange's win/billing/loss notice (SPEC §14), `exchange_pending`.
"""

import hashlib
from dataclasses import dataclass

from pipeline.messages import LossReason


@dataclass(frozen=True)
class AuctionSettings:
    min_threshold: float = 0.30
    win_probability: float = 0.70
    seed: str = "helios"


RTB_SOURCE = "rtb"  # BidResponse.source of a decision made by `POST /openrtb2/bid`


@dataclass(frozen=True)
class AuctionResult:
    win_status: bool
    win_price: float
    loss_reason: LossReason | None  # None when won, or when an RTB bid awaits the exchange's notice


def draw(seed: str, bid_request_id: str, imp_id: str) -> float:
    """A number in [0, 1), uniform over inputs, fixed for a given (seed, request, imp)."""
    # Length-prefixed fields, so no two different triples hash the same bytes.
    fields = (seed, bid_request_id, imp_id)
    digest = hashlib.sha256(b"".join(len(f.encode()).to_bytes(4, "big") + f.encode() for f in fields)).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def run_auction(*, bid_price: float, bid_request_id: str, imp_id: str, settings: AuctionSettings) -> AuctionResult:
    if not bid_price > 0:  # `not >` so NaN is no bid too
        return AuctionResult(False, 0.0, LossReason.NO_BID)
    if bid_price <= settings.min_threshold:
        return AuctionResult(False, 0.0, LossReason.BELOW_THRESHOLD)
    if draw(settings.seed, bid_request_id, imp_id) < settings.win_probability:
        return AuctionResult(True, bid_price, None)  # first price
    return AuctionResult(False, 0.0, LossReason.LOST)


def exchange_pending(*, bid_price: float) -> AuctionResult:
    """The outcome of an RTB decision until the exchange's notice says more: not won (yet), no
    win price, and no loss reason for a bid (pending), "no_bid" for a no-bid."""
    if not bid_price > 0:
        return AuctionResult(False, 0.0, LossReason.NO_BID)
    return AuctionResult(False, 0.0, None)
