"""From an `auction_outcomes` message to the values of one stored row. No I/O.

`outcome_row` rejects what the database would refuse (a time that does not parse or is out of
range, a string longer than its column, money out of range) so that one bad message goes to the DLQ
instead of failing its whole batch again and again. The sink turns each message into its row once;
everything after (the insert, the rollups, the batch listeners) works on rows.
"""

import math
from datetime import UTC, date, datetime
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from functools import lru_cache

import msgspec

from pipeline.messages import (
    DIGEST_CHARS,
    MAX_CATEGORY_CHARS,
    MAX_ID_CHARS,
    MONEY_PLACES,
    MONEY_QUANTUM,
    AuctionOutcomeMessage,
    LossReason,
    parse_time,
)

# Column widths of outcomes.models.AuctionOutcome, here so that this module needs no Django (the
# model takes MONEY_DIGITS from here; a test checks MAX_LENGTHS against its columns).
MONEY_DIGITS = 12  # up to 99,999,999.9999 in the currency's units
MONEY_MAX = Decimal(10) ** (MONEY_DIGITS - MONEY_PLACES) - MONEY_QUANTUM
SOURCE_CHARS = 16
PRIVACY_CHARS = 32
STATUS_CHARS = 16
# SPEC §14: an RTB row's status as stored (`expired` is a pending row past the notice window).
STATUSES = ("no_bid", "pending", "won", "billed", "lost", "expired")
NBR_RANGE = (0, 2**31 - 1)  # an IntegerField (nbr); OpenRTB codes are not negative
BIGINT_RANGE = (-(2**63), 2**63 - 1)  # a BigIntegerField (campaign_id)
MAX_LENGTHS = {
    "bid_id": MAX_ID_CHARS,
    "request_digest": DIGEST_CHARS,
    "imp_id": MAX_ID_CHARS,
    "user_id": MAX_ID_CHARS,
    "site_domain": 255,
    "currency": 8,
    "winning_interest": MAX_CATEGORY_CHARS,
    "creative_id": MAX_ID_CHARS,
    "loss_reason": 32,
    "source": SOURCE_CHARS,
    "rtb_bid_id": MAX_ID_CHARS,
    "privacy": PRIVACY_CHARS,
    "status": STATUS_CHARS,
}
INT_RANGES = {"campaign_id": BIGINT_RANGE, "nbr": NBR_RANGE}


class InvalidOutcome(ValueError):
    """The message decoded, but cannot be stored as it is."""


class OutcomeRow(msgspec.Struct, frozen=True, gc=False):
    """The stored columns of one outcome, named and ordered as the table's, without `created_at`
    (the insert's time, added by the writer). JSON columns hold JSON text, as the database takes
    it. The insert's column list and values come from this field order."""

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
    user_interests: str  # JSON text of a list of strings
    creative_id: str | None
    loss_reason: LossReason | None
    timestamp: datetime  # event time: the request's received_at
    auction_timestamp: datetime
    raw_data: str  # JSON text of the whole message
    source: str  # SPEC §12, from here on: what the campaign decision chose, and RTB's figures
    campaign_id: int | None
    rtb_bid_id: str | None  # the message's `bid_id` (the OpenRTB bid's id; `bid_id` is the request's)
    nbr: int | None
    privacy: str | None
    latency_ms: float | None
    deadline_ms: float | None
    status: str | None  # RTB: "no_bid" or "pending" until its notices (outcomes/notices.py); else None
    clearing_cpm: Decimal | None = None  # set by the notices, never by the insert
    loss_code: int | None = None

    @property
    def key(self) -> tuple[str, str, str]:
        """The unique key: distinct requests sharing an id differ by their digest."""
        return (self.bid_id, self.request_digest, self.imp_id)

    @property
    def day(self) -> date:
        """The UTC day of the event time: the rollup row this outcome counts in."""
        return self.timestamp.astimezone(UTC).date()


ROW_FIELDS: tuple[str, ...] = OutcomeRow.__struct_fields__


def to_money(value: float, field: str) -> Decimal:
    """A message's float as Decimal with 4 places (the shortest repr, so 0.35 stays 0.35)."""
    amount = _quantized(value)
    if amount is None:
        raise InvalidOutcome(f"{field}: {value!r} is not a finite amount")
    if not amount.is_finite() or amount < 0 or amount > MONEY_MAX:
        raise InvalidOutcome(f"{field}: {value!r} is out of range")
    return amount


@lru_cache(maxsize=65_536)
def _quantized(value: float) -> Decimal | None:
    """Prices repeat (floors, the auction's few clearing prices): each is converted once."""
    try:
        return Decimal(repr(value)).quantize(MONEY_QUANTUM, rounding=ROUND_HALF_UP)
    except InvalidOperation:
        return None


def to_time(text: str, field: str) -> datetime:
    try:
        moment = parse_time(text)
    except ValueError as exc:
        raise InvalidOutcome(f"{field}: {text!r} is not an RFC 3339 time") from exc
    # RFC 3339 requires an offset; a time without one is taken as UTC rather than dropped.
    moment = moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
    try:
        # A time such as 0001-01-01T00:00:00+01:00 parses, but is out of datetime's range in UTC:
        # the batch write (its rollup day) would fail on every retry, or, stored, every read of it.
        moment.astimezone(UTC)
    except OverflowError as exc:
        raise InvalidOutcome(f"{field}: {text!r} is out of range in UTC") from exc
    return moment


def outcome_row(outcome: AuctionOutcomeMessage) -> OutcomeRow:
    """The row to store for `outcome`; raises InvalidOutcome if it cannot be stored."""
    creative_id = outcome.creative_id
    if creative_id is None and outcome.ad_creative is not None:
        creative_id = outcome.ad_creative.creative_id
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
        user_interests=msgspec.json.encode(outcome.user_interests).decode(),
        creative_id=creative_id,
        loss_reason=outcome.loss_reason,
        timestamp=to_time(outcome.received_at, "received_at"),
        auction_timestamp=to_time(outcome.auction_timestamp, "auction_timestamp"),
        raw_data=msgspec.json.encode(outcome).decode(),
        source=outcome.source,
        campaign_id=outcome.campaign_id,
        rtb_bid_id=outcome.bid_id,
        nbr=outcome.nbr,
        privacy=outcome.privacy,
        latency_ms=_finite(outcome.latency_ms, "latency_ms"),
        deadline_ms=_finite(outcome.deadline_ms, "deadline_ms"),
        status=_status(outcome),
    )
    for field, limit in MAX_LENGTHS.items():
        value = getattr(row, field)
        if value is not None and len(value) > limit:
            raise InvalidOutcome(f"{field}: longer than {limit} characters")
    for field, (low, high) in INT_RANGES.items():
        value = getattr(row, field)
        if value is not None and not low <= value <= high:
            raise InvalidOutcome(f"{field}: {value} is out of range")
    # PostgreSQL text and jsonb cannot hold NUL; JSON can (as \u0000). The text search is the fast
    # path; the walk tells a NUL from an escaped backslash followed by "u0000".
    if "\\u0000" in row.raw_data and _has_nul(msgspec.to_builtins(outcome)):
        raise InvalidOutcome("a string contains a NUL character")
    return row


def _status(outcome: AuctionOutcomeMessage) -> str | None:
    if outcome.source != "rtb":
        return None
    return "pending" if outcome.bid_id is not None and outcome.bid_price > 0 else "no_bid"


def _finite(value: float | None, field: str) -> float | None:
    if value is not None and not math.isfinite(value):
        raise InvalidOutcome(f"{field}: {value!r} is not a finite number")
    return value


def _has_nul(value: object) -> bool:
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(_has_nul(k) or _has_nul(v) for k, v in value.items())
    if isinstance(value, list):
        return any(_has_nul(v) for v in value)
    return False
