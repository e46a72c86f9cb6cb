"""From an `auction_outcomes` message to the values of one stored row. No I/O.

`outcome_row` rejects what the database would refuse (a time that does not parse, a string longer
than its column, money out of range) so that one bad message goes to the DLQ instead of failing
its whole batch again and again.
"""

from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

import msgspec

from pipeline.messages import DIGEST_CHARS, MAX_CATEGORY_CHARS, AuctionOutcome, parse_time

MONEY_QUANTUM = Decimal("0.0001")
MONEY_MAX = Decimal("99999999.9999")  # DecimalField(12, 4)

# Column widths of outcomes.models.AuctionOutcome (kept here so this module needs no Django).
MAX_LENGTHS = {
    "bid_id": 128,
    "request_digest": DIGEST_CHARS,
    "imp_id": 128,
    "user_id": 128,
    "site_domain": 255,
    "currency": 8,
    "winning_interest": MAX_CATEGORY_CHARS,
    "creative_id": 128,
    "loss_reason": 32,
}


class InvalidOutcome(ValueError):
    """The message decoded, but cannot be stored as it is."""


@dataclass(frozen=True, slots=True)
class OutcomeRow:
    bid_id: str
    request_digest: str
    imp_id: str
    user_id: str | None
    site_domain: str | None
    win_status: bool
    win_price: Decimal
    bid_price: Decimal
    bid_floor: Decimal
    currency: str
    enriched: bool
    winning_interest: str | None
    user_interests: list[str]
    creative_id: str | None
    loss_reason: str | None
    timestamp: datetime
    auction_timestamp: datetime
    raw_json: str  # the whole message as JSON text, stored as `raw_data`

    @property
    def key(self) -> tuple[str, str, str]:
        """The unique key: distinct requests sharing an id differ by their digest."""
        return (self.bid_id, self.request_digest, self.imp_id)

    @property
    def day(self) -> date:
        """The UTC day of the event time: the rollup row this outcome counts in."""
        return self.timestamp.astimezone(UTC).date()


def to_money(value: float, field: str) -> Decimal:
    """A message's float as Decimal with 4 places (the shortest repr, so 0.35 stays 0.35)."""
    try:
        amount = Decimal(repr(value)).quantize(MONEY_QUANTUM, rounding=ROUND_HALF_UP)
    except InvalidOperation as exc:
        raise InvalidOutcome(f"{field}: {value!r} is not a finite amount") from exc
    if not amount.is_finite() or amount < 0 or amount > MONEY_MAX:
        raise InvalidOutcome(f"{field}: {value!r} is out of range")
    return amount


def to_time(text: str, field: str) -> datetime:
    try:
        moment = parse_time(text)
    except ValueError as exc:
        raise InvalidOutcome(f"{field}: {text!r} is not an RFC 3339 time") from exc
    # RFC 3339 requires an offset; a time without one is taken as UTC rather than dropped.
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def outcome_row(outcome: AuctionOutcome) -> OutcomeRow:
    """The row to store for `outcome`; raises InvalidOutcome if it cannot be stored."""
    creative_id = outcome.ad_creative.creative_id if outcome.ad_creative is not None else None
    row = OutcomeRow(
        bid_id=outcome.bid_request_id,
        request_digest=outcome.request_digest,
        imp_id=outcome.imp_id,
        user_id=outcome.user_id,
        site_domain=outcome.site_domain,
        win_status=outcome.win_status,
        win_price=to_money(outcome.win_price, "win_price"),
        bid_price=to_money(outcome.bid_price, "bid_price"),
        bid_floor=to_money(outcome.bid_floor, "bid_floor"),
        currency=outcome.currency,
        enriched=outcome.enriched,
        winning_interest=outcome.winning_interest,
        user_interests=list(outcome.user_interests),
        creative_id=creative_id,
        loss_reason=outcome.loss_reason,
        timestamp=to_time(outcome.received_at, "received_at"),
        auction_timestamp=to_time(outcome.auction_timestamp, "auction_timestamp"),
        raw_json=msgspec.json.encode(outcome).decode(),
    )
    for field, limit in MAX_LENGTHS.items():
        value = getattr(row, field)
        if value is not None and len(value) > limit:
            raise InvalidOutcome(f"{field}: longer than {limit} characters")
    # PostgreSQL text and jsonb cannot hold NUL; JSON can (as \u0000). The text search is the fast
    # path; the walk tells a NUL from an escaped backslash followed by "u0000".
    if "\\u0000" in row.raw_json and _has_nul(msgspec.to_builtins(outcome)):
        raise InvalidOutcome("a string contains a NUL character")
    return row


def _has_nul(value: object) -> bool:
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(_has_nul(k) or _has_nul(v) for k, v in value.items())
    if isinstance(value, list):
        return any(_has_nul(v) for v in value)
    return False
