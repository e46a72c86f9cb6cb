"""The message on each topic (SPEC §3), one msgspec Struct per topic, and the pipeline's
vocabulary: the id length limit, money, the default currency and the reasons for no bid or loss.
Every app takes these from here.

One definition gives validation, fast JSON encode/decode and types. Times are RFC 3339 UTC strings
with milliseconds; money is a float in the currency's units rounded to MONEY_PLACES decimals.
"""

import enum
import hashlib
import time
from datetime import UTC, datetime
from decimal import ROUND_CEILING, Decimal
from typing import Annotated, Literal, TypeVar

import msgspec

MAX_ID_CHARS = 128  # request, impression and user ids (SPEC §2), and the columns that store them
MONEY_PLACES = 4
MONEY_QUANTUM = Decimal(1).scaleb(-MONEY_PLACES)  # Decimal("0.0001")
MONEY_MAX = 99_999_999.9999  # the widest amount the outcome columns hold (DecimalField(12, 4))
DEFAULT_CURRENCY = "USD"
MAX_CATEGORY_CHARS = 64  # an interest category, as stored in outcomes' winning_interest column
DIGEST_CHARS = 16  # hex characters of a request digest (64 bits)

Id = Annotated[str, msgspec.Meta(min_length=1, max_length=MAX_ID_CHARS)]
OptStr = str | None
Money = Annotated[float, msgspec.Meta(ge=0)]
Media = Literal["banner", "video", "audio", "native"]
# Where a request came in: `POST /bid` in either shape (priced by the bidder role), or
# `POST /openrtb2/bid` (decided by the handler itself, SPEC §12; the bidder skips these).
Source = Literal["helios", "openrtb", "rtb"]


class NoBidReason(enum.StrEnum):
    """Why the bidder did not bid on an impression (`bid_responses.no_bid_reason`)."""

    BELOW_FLOOR = "below_floor"  # the tier's price is under the impression's floor
    CURRENCY = "currency"  # the floor is in another currency than the bid's
    # From the campaign decision (bidding/decision.py); the built-in house campaign never gives them.
    NO_CAMPAIGN = "no_campaign"  # no active campaign targets the request
    NO_CREATIVE = "no_creative"  # no targeted campaign has a creative that fits the impression
    BLOCKED = "blocked"  # the request's bcat/badv block every one that fits
    NO_ROOM = "no_room"  # budget, pacing or frequency cap
    PRIVATE_AUCTION = "private_auction"  # an OpenRTB impression open to its deals only (Helios has none)


class LossReason(enum.StrEnum):
    """Why an impression was not won (`auction_outcomes.loss_reason`)."""

    NO_BID = "no_bid"
    BELOW_THRESHOLD = "below_threshold"
    LOST = "lost"


def utc_now() -> str:
    """Now as RFC 3339 UTC with milliseconds: `2026-11-26T12:00:00.123Z`. Formatted once per
    millisecond (the roles stamp thousands of messages a second; formatting was ~4 % of the auction's time)."""
    global _last_now
    now = time.time()
    millis = int(now * 1000)
    last = _last_now
    if last[0] == millis:
        return last[1]
    text = format_time(datetime.fromtimestamp(millis // 1000, UTC).replace(microsecond=millis % 1000 * 1000))
    _last_now = (millis, text)
    return text


_last_now: tuple[int, str] = (0, "")


def format_time(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def parse_time(text: str) -> datetime:
    return datetime.fromisoformat(text)


def money(value: float | Decimal) -> float:
    """An amount as the messages carry it: a float rounded to MONEY_PLACES decimals."""
    return round(float(value), MONEY_PLACES)


def money_ceil(value: float) -> float:
    """`value` rounded UP to MONEY_QUANTUM. A bid (MONEY_PLACES decimals) clears the result
    exactly when it clears `value` itself: a floor of 1.20005 becomes 1.2001, not 1.2."""
    return float(Decimal(repr(value)).quantize(MONEY_QUANTUM, rounding=ROUND_CEILING))


class Imp(msgspec.Struct, kw_only=True):
    imp_id: Id
    bidfloor: Money = 0.0
    bidfloorcur: str = DEFAULT_CURRENCY
    media: Media | None = None
    w: int | None = None
    h: int | None = None


class BidRequest(msgspec.Struct, kw_only=True):
    """`bid_requests`: one per accepted request; key = request_id.

    `request_digest` tells apart distinct requests that share an id (two exchanges both numbering
    from 1): a digest of the accepted request without `received_at` (`request_digest()`), so a
    re-delivery or a client's retry of the same request has the same one. "" in messages from
    before it existed."""

    request_id: Id
    request_digest: str = ""
    user_id: OptStr = None
    received_at: str
    source: Source
    site_domain: OptStr = None
    site_page: OptStr = None
    device_ip: OptStr = None
    device_ua: OptStr = None
    tmax_ms: int | None = None
    test: bool = False
    imps: Annotated[list[Imp], msgspec.Meta(min_length=1)]
    # SPEC §16 state (campaigns.privacy.PrivacyState) of an RTB request; None for `POST /bid`. A
    # restricted one carries no user id, IP or user agent.
    privacy: OptStr = None


class AdCreative(msgspec.Struct, kw_only=True):
    creative_id: str
    title: str
    image_url: str
    landing_url: str
    bid_tier: str


class BidResponse(msgspec.Struct, kw_only=True):
    """`bid_responses`: exactly one per impression; key = bid_request_id."""

    bid_request_id: Id
    request_digest: str = ""  # the request's (BidRequest.request_digest)
    imp_id: Id
    user_id: OptStr = None
    received_at: str
    site_domain: OptStr = None
    bid_price: Money
    bid_floor: Money
    currency: str = DEFAULT_CURRENCY
    timestamp: str
    enriched: bool
    winning_interest: OptStr = None
    interest_score: float | None = None
    user_interests: list[str] = msgspec.field(default_factory=list)
    no_bid_reason: NoBidReason | None = None
    ad_creative: AdCreative | None = None
    # SPEC §12: what the campaign decision chose, for every source (None/0 when no bid).
    source: Source = "helios"
    campaign_id: int | None = None  # campaigns.Campaign id (0: the built-in house fallback)
    creative_id: OptStr = None  # the creative's crid
    bid_id: OptStr = None  # BidResponse.seatbid[].bid[].id, the key the win/bill/loss notices carry
    price_cpm: Money = 0.0  # = bid_price: OpenRTB prices are CPM
    nbr: int | None = None  # OpenRTB no-bid reason code (bidding.decision.NoBid) when no bid
    # RTB only: the request's privacy state, the time from receipt to the decision, the deadline.
    privacy: OptStr = None
    latency_ms: float | None = None
    deadline_ms: float | None = None


class AuctionOutcomeMessage(BidResponse, kw_only=True):
    """`auction_outcomes`: exactly one per bid response; key = bid_request_id."""

    win_status: bool
    win_price: Money
    auction_timestamp: str
    loss_reason: LossReason | None = None


NoticeKind = Literal["win", "bill", "loss"]
MAX_CPM_MICROS = 10**12  # a CPM of $1,000,000: more than any notice may carry (the stored columns hold it)
CpmMicros = Annotated[int, msgspec.Meta(ge=0, le=MAX_CPM_MICROS)]


class AuctionNotice(msgspec.Struct, kw_only=True):
    """`auction_notices`: one per notice the handler accepted (SPEC §14); key = request_id.

    The token's signed claims (rtb.tokens.NoticeClaims) plus what the exchange filled in: the
    clearing CPM in micros (required on a win or bill; a loss may carry the winner's) and, for a
    loss, the OpenRTB loss reason code (required). An exchange retries notices, so the same
    (bid_id, kind) may come many times. Decoding refuses what the consumers could not apply, so
    that it is dead-lettered instead of stopping them."""

    kind: NoticeKind
    request_id: Id
    request_digest: str = ""
    imp_id: Id
    bid_id: Id
    campaign_id: Annotated[int, msgspec.Meta(ge=0, le=2**63 - 1)]
    crid: str
    price_micros: CpmMicros  # the bid's CPM
    user_id: OptStr = None
    issued_at: Annotated[int, msgspec.Meta(ge=0, le=2**40)]  # when the token was signed, unix seconds
    clearing_micros: CpmMicros | None = None  # ${AUCTION_PRICE}
    loss_code: Annotated[int, msgspec.Meta(ge=0, le=2**31 - 1)] | None = None  # ${AUCTION_LOSS}
    min_to_win_micros: CpmMicros | None = None  # ${AUCTION_MIN_TO_WIN}
    received_at: str

    def __post_init__(self) -> None:
        if self.kind != "loss" and self.clearing_micros is None:
            raise ValueError(f"a {self.kind} notice needs its clearing price")
        if self.kind == "loss" and self.loss_code is None:
            raise ValueError("a loss notice needs its loss code")
        try:
            moment = parse_time(self.received_at)
            (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).astimezone(UTC)
        except (ValueError, OverflowError):
            raise ValueError(f"received_at {self.received_at!r} is not an RFC 3339 time") from None


def request_digest(request: BidRequest) -> str:
    """The digest of an accepted request: SHA-256 over its message without `received_at` (and
    without a digest), first DIGEST_CHARS hex characters. Deterministic across processes."""
    canonical = msgspec.structs.replace(request, received_at="", request_digest="")
    return hashlib.sha256(_encoder.encode(canonical)).hexdigest()[:DIGEST_CHARS]


T = TypeVar("T", bound=msgspec.Struct)

_encoder = msgspec.json.Encoder()
_decoders: dict[type, msgspec.json.Decoder] = {}


def encode(message: msgspec.Struct) -> bytes:
    return _encoder.encode(message)


def decode(data: bytes, kind: type[T]) -> T:
    """Decode and validate; raises msgspec.ValidationError / DecodeError on bad input."""
    decoder = _decoders.get(kind)
    if decoder is None:
        decoder = _decoders[kind] = msgspec.json.Decoder(kind)
    return decoder.decode(data)
