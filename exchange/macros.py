"""OpenRTB 2.6 §4.4 substitution macros, as an exchange replaces them in `nurl`, `burl`, `lurl` and
the markup before calling or serving them, pure.

Every defined macro found is replaced, "without regard for syntax correctness"; one whose value is
unknown (None) becomes the empty string. `${NAME:B64}` asks for the value Base64-encoded (§4.4's
example of the `:X` suffix; the algorithm is left to the parties): here the URL-safe alphabet of
RFC 4648 §5 without padding, so the result can stand in a URL as is. Other suffixes, and names §4.4
does not define, are left as they are.
"""

import base64
import re
from collections.abc import Mapping
from decimal import Decimal

MACROS = (
    "AUCTION_ID",  # BidRequest.id
    "AUCTION_BID_ID",  # BidResponse.bidid
    "AUCTION_IMP_ID",  # imp.id
    "AUCTION_SEAT_ID",  # seatbid.seat
    "AUCTION_AD_ID",  # bid.adid
    "AUCTION_PRICE",  # the clearing price, in the bid's currency and units (CPM)
    "AUCTION_CURRENCY",  # the bid's currency
    "AUCTION_MBR",  # market bid ratio: clearing price / bid price
    "AUCTION_LOSS",  # the loss reason code
    "AUCTION_MIN_TO_WIN",  # §4.4.1
    "AUCTION_MULTIPLIER",  # impressions won (DOOH); not known here: empty
    "AUCTION_IMP_TS",  # when the impression was fulfilled, Unix ms
)
B64 = "B64"
_MACRO = re.compile(r"\$\{([A-Z_]+)(?::([A-Za-z0-9]+))?\}")

Value = str | int | Decimal | None


def b64(text: str) -> str:
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


def text_of(value: Value) -> str:
    """A macro value as text: Decimals in plain notation (1.00, never 1E+0), None as ""."""
    if value is None:
        return ""
    if isinstance(value, Decimal):
        return format(value, "f")
    return str(value)


def substitute(template: str, values: Mapping[str, Value]) -> str:
    """`template` with every §4.4 macro replaced by its value in `values` (missing: empty)."""

    def replace(match: re.Match[str]) -> str:
        name, encoding = match.group(1), match.group(2)
        if name not in MACROS or encoding not in (None, B64):
            return match.group(0)
        text = text_of(values.get(name))
        return b64(text) if encoding == B64 and text else text

    return _MACRO.sub(replace, template)


def market_bid_ratio(clearing: Decimal, bid: Decimal) -> Decimal:
    """${AUCTION_MBR}: clearing price / bid price, to 4 places."""
    return (clearing / bid).quantize(Decimal("0.0001")) if bid else Decimal(0)
