"""The OpenRTB 2.6 BidResponse `/openrtb2/bid` answers with (SPEC §12), pure.

One seatbid, at most one bid per impression; each bid carries its markup inline (`adm`) and the
win, billing and loss notice URLs with the OpenRTB macros the exchange substitutes and a signed
token (rtb/tokens.py) naming the bid.
"""

import html
from dataclasses import dataclass

import msgspec

from bidding.decision import Bid, Slot
from campaigns.index import CreativeSpec
from pipeline.messages import DEFAULT_CURRENCY, money
from rtb.openrtb import MTYPE
from rtb.tokens import NoticeClaims, sign


class OrtbBid(msgspec.Struct, omit_defaults=True):
    id: str
    impid: str
    price: float
    adm: str
    adomain: list[str]
    crid: str
    cid: str
    cat: list[str]
    mtype: int
    nurl: str
    burl: str
    lurl: str
    w: int | None = None
    h: int | None = None


class SeatBid(msgspec.Struct):
    seat: str
    bid: list[OrtbBid]


class OrtbResponse(msgspec.Struct):
    id: str
    bidid: str
    cur: str
    seatbid: list[SeatBid]


MACROS = "&".join(
    f"{name}=${{AUCTION_{macro}}}"
    for name, macro in (
        ("auction", "ID"),
        ("bid", "BID_ID"),
        ("imp", "IMP_ID"),
        ("price", "PRICE"),
        ("cur", "CURRENCY"),
    )
)


@dataclass(frozen=True)
class Notices:
    """Where notices go (`base_url`, no trailing slash) and the secret their tokens are signed with."""

    base_url: str
    secret: bytes

    def urls(self, claims: NoticeClaims) -> tuple[str, str, str]:
        """nurl, burl, lurl: the token and the OpenRTB macros the exchange substitutes (SPEC §14)."""
        query = f"t={sign(claims, self.secret)}&{MACROS}"
        base = self.base_url
        return (
            f"{base}/notice/win?{query}",
            f"{base}/notice/bill?{query}",
            f"{base}/notice/loss?{query}&loss=${{AUCTION_LOSS}}&min=${{AUCTION_MIN_TO_WIN}}",
        )


def size_of(creative: CreativeSpec, slot: Slot) -> tuple[int | None, int | None]:
    """The creative's own size, or for a flexible one (native, audio...) the impression's first."""
    if creative.w is not None and creative.h is not None:
        return creative.w, creative.h
    return slot.sizes[0] if slot.sizes else (None, None)


def markup(creative: CreativeSpec, w: int | None, h: int | None) -> str:
    """The creative's markup template, or an image linked to its landing page."""
    if creative.markup:
        return creative.markup
    size = f' width="{w}" height="{h}"' if w and h else ""
    return (
        f'<a href="{html.escape(creative.landing_url)}" target="_blank" rel="noopener">'
        f'<img src="{html.escape(creative.image_url)}"{size} alt="{html.escape(creative.title)}"></a>'
    )


def ortb_bid(bid: Bid, slot: Slot, bid_id: str, claims: NoticeClaims, notices: Notices) -> OrtbBid:
    creative, campaign = bid.creative, bid.campaign
    w, h = size_of(creative, slot)
    nurl, burl, lurl = notices.urls(claims)
    return OrtbBid(
        id=bid_id,
        impid=slot.imp_id,
        price=money(bid.price),
        adm=markup(creative, w, h),
        adomain=[campaign.adomain],
        crid=creative.crid,
        cid=str(campaign.id),
        cat=list(campaign.cat),
        mtype=MTYPE[creative.media],
        nurl=nurl,
        burl=burl,
        lurl=lurl,
        w=w,
        h=h,
    )


_encoder = msgspec.json.Encoder()


def response_body(request_id: str, response_id: str, seat: str, bids: list[OrtbBid]) -> bytes:
    return _encoder.encode(
        OrtbResponse(id=request_id, bidid=response_id, cur=DEFAULT_CURRENCY, seatbid=[SeatBid(seat=seat, bid=bids)])
    )
