"""The auction rule (SPEC §6), pure: no I/O, no Django.

A bid wins when its price is above the threshold and a draw falls under the win probability. The
draw is a hash of (seed, request id, imp id), so the same message always gets the same outcome:
re-processing after a crash cannot change a result.
"""

import hashlib
from dataclasses import dataclass

from pipeline.messages import LossReason


@dataclass(frozen=True)
class AuctionSettings:
    min_threshold: float = 0.30
    win_probability: float = 0.70
    seed: str = "helios"


@dataclass(frozen=True)
class AuctionResult:
    win_status: bool
    win_price: float
    loss_reason: LossReason | None  # None when won


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
