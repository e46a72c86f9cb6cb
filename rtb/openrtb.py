"""An OpenRTB 2.6 BidRequest as `/openrtb2/bid` reads it (SPEC §12, §16), pure: bytes in, plain data out.

Validated as `POST /bid` validates (SPEC §2: same limits, same `InvalidRequest` detail), with the
members the decision needs on top: `site`/`app` placement, `device.geo.country`,
`device.devicetype`, `bcat`/`badv`/`bapp`, `cur`, banner `format` and video sizes, and the privacy
signals in their 2.6 and 2.5 `ext` places. Unknown members are skipped, as OpenRTB requires.
"""

from typing import Annotated, Any, Literal

import msgspec

from bidding.decision import Placement, Slot
from campaigns.privacy import Privacy, PrivacyState, privacy_of
from intake.fields import MAX_FORMATS, MAX_TMAX_MS, Currency, Domain, Floor, Id, Ip, Pixels, Url, UserAgent
from intake.validation import check_imps, decode_strict
from pipeline.messages import DEFAULT_CURRENCY, MONEY_PLACES, BidRequest, Imp, Media, money_ceil, request_digest

MAX_LIST = 512  # entries of bcat/badv/bapp/cur
OPEN = Privacy(state=PrivacyState.OPEN)
MTYPE: dict[str, int] = {"banner": 1, "video": 2, "audio": 3, "native": 4}  # OpenRTB 2.6 bid.mtype

Code = Annotated[str, msgspec.Meta(max_length=256)]
Codes = Annotated[list[Code], msgspec.Meta(max_length=MAX_LIST)]


class Format(msgspec.Struct):
    w: Pixels | None = None
    h: Pixels | None = None


class Banner(msgspec.Struct):
    w: Pixels | None = None
    h: Pixels | None = None
    format: Annotated[list[Format], msgspec.Meta(max_length=MAX_FORMATS)] | None = None


class Video(msgspec.Struct):
    w: Pixels | None = None
    h: Pixels | None = None


class _Present(msgspec.Struct):
    """An object whose presence, not content, matters (audio, native)."""


class Pmp(msgspec.Struct):
    private_auction: Literal[0, 1] | bool = 0


class OrtbImp(msgspec.Struct):
    id: Id
    bidfloor: Floor = 0.0
    bidfloorcur: Currency = DEFAULT_CURRENCY
    banner: Banner | None = None
    video: Video | None = None
    audio: _Present | None = None
    native: _Present | None = None
    pmp: Pmp | None = None

    @property
    def media(self) -> Media | None:
        if self.banner is not None:
            return "banner"
        if self.video is not None:
            return "video"
        if self.audio is not None:
            return "audio"
        return "native" if self.native is not None else None

    @property
    def sizes(self) -> tuple[tuple[int, int], ...]:
        """A banner's wxh, then each `format` size; empty (any size) for the other media: a video
        player scales the creative, a native or audio ad has no size."""
        banner = self.banner
        if banner is None:
            return ()
        sizes: list[tuple[int, int]] = []
        if banner.w and banner.h:
            sizes.append((banner.w, banner.h))
        if banner.format:
            sizes.extend((f.w, f.h) for f in banner.format if f.w and f.h and (f.w, f.h) not in sizes)
        return tuple(sizes)


class Site(msgspec.Struct):
    domain: Domain | None = None
    page: Url | None = None


class App(msgspec.Struct):
    domain: Domain | None = None
    bundle: Domain | None = None


class Geo(msgspec.Struct):
    country: Annotated[str, msgspec.Meta(max_length=3)] | None = None


class Device(msgspec.Struct):
    ip: Ip | None = None
    ipv6: Ip | None = None
    ua: UserAgent | None = None
    geo: Geo | None = None
    devicetype: int | None = None
    lmt: Any = None  # 0/1, leniently "1"/true: campaigns.privacy reads it


class User(msgspec.Struct):
    id: Id | None = None
    buyeruid: Id | None = None
    consent: Any = None
    ext: dict[str, Any] | None = None


class OrtbRequest(msgspec.Struct):
    id: Id
    imp: Annotated[list[OrtbImp], msgspec.Meta(min_length=1)]
    site: Site | None = None
    app: App | None = None
    device: Device | None = None
    user: User | None = None
    tmax: Annotated[int, msgspec.Meta(ge=0, le=MAX_TMAX_MS)] | None = None
    test: Literal[0, 1] | bool = False
    regs: dict[str, Any] | None = None
    bcat: Codes | None = None
    badv: Codes | None = None
    bapp: Codes | None = None
    cur: Codes | None = None

    def privacy_fields(self) -> dict[str, Any]:
        """The members `campaigns.privacy.privacy_of` reads, as the JSON document had them."""
        user = {"consent": self.user.consent, "ext": self.user.ext} if self.user is not None else {}
        device = {"lmt": self.device.lmt} if self.device is not None else {}
        return {"regs": self.regs or {}, "user": user, "device": device}


class RtbRequest(msgspec.Struct, frozen=True):
    """A parsed request: the OpenRTB document, its privacy state, what the decision reads and the
    `bid_requests` message (without the user's identifiers when the request is restricted)."""

    ortb: OrtbRequest
    privacy: Privacy
    placement: Placement
    slots: tuple[Slot, ...]
    message: BidRequest


_decoder = msgspec.json.Decoder(OrtbRequest)


def parse_rtb_request(body: bytes, *, max_imps: int, received_at: str, vendor_id: int) -> RtbRequest:
    """Raises `intake.validation.InvalidRequest` (a 400) for anything that is not an acceptable
    OpenRTB BidRequest."""
    ortb = decode_strict(_decoder.decode, body)
    privacy = _privacy(ortb, vendor_id)
    slots = tuple(_slot(i) for i in ortb.imp)
    message = _message(ortb, received_at, privacy, slots)
    check_imps(message.imps, max_imps, "imp")
    message.request_digest = request_digest(message)
    device = ortb.device
    placement = Placement(
        site_domain=ortb.site.domain if ortb.site is not None else None,
        app_bundle=ortb.app.bundle if ortb.app is not None and ortb.site is None else None,
        country=device.geo.country if device is not None and device.geo is not None else None,
        device_type=device.devicetype if device is not None else None,
        bcat=frozenset(ortb.bcat) if ortb.bcat else frozenset(),
        badv=frozenset(d.lower() for d in ortb.badv) if ortb.badv else frozenset(),
        bapp=frozenset(ortb.bapp) if ortb.bapp else frozenset(),
        cur=tuple(ortb.cur or ()),
        restricted=privacy.restricted,
        user_id=message.user_id,
    )
    return RtbRequest(ortb=ortb, privacy=privacy, placement=placement, slots=slots, message=message)


def _privacy(ortb: OrtbRequest, vendor_id: int) -> Privacy:
    if ortb.regs is None and (ortb.device is None or ortb.device.lmt is None):
        return OPEN  # every signal lives in regs, except LMT (SPEC §16)
    return privacy_of(ortb.privacy_fields(), vendor_id=vendor_id)


def _slot(imp: OrtbImp) -> Slot:
    return Slot(
        imp_id=imp.id,
        bidfloor=_ceil(imp.bidfloor),
        bidfloorcur=imp.bidfloorcur,
        media=imp.media,
        sizes=imp.sizes,
        private_auction=imp.pmp is not None and bool(imp.pmp.private_auction),
    )


def _ceil(floor: float) -> float:
    """`money_ceil`, with the common case (a floor of at most 4 decimals) kept cheap."""
    return floor if round(floor, MONEY_PLACES) == floor else money_ceil(floor)


def _message(ortb: OrtbRequest, received_at: str, privacy: Privacy, slots: tuple[Slot, ...]) -> BidRequest:
    domain = page = None
    if ortb.site is not None:
        domain, page = ortb.site.domain, ortb.site.page
    elif ortb.app is not None:
        domain = ortb.app.domain or ortb.app.bundle
    user_id = ip = ua = None
    if not privacy.restricted:  # SPEC §16: no user id, IP or user agent stored
        if ortb.user is not None:
            user_id = ortb.user.id or ortb.user.buyeruid
        if ortb.device is not None:
            ip, ua = ortb.device.ip or ortb.device.ipv6, ortb.device.ua
    return BidRequest(
        request_id=ortb.id,
        user_id=user_id,
        received_at=received_at,
        source="rtb",
        site_domain=domain,
        site_page=page,
        device_ip=ip,
        device_ua=ua,
        tmax_ms=ortb.tmax,
        test=bool(ortb.test),
        imps=[_imp(i, slot) for i, slot in zip(ortb.imp, slots, strict=True)],
        privacy=privacy.state.value,
    )


def _imp(imp: OrtbImp, slot: Slot) -> Imp:
    w, h = slot.sizes[0] if slot.sizes else (imp.video.w, imp.video.h) if imp.video is not None else (None, None)
    return Imp(imp_id=imp.id, bidfloor=slot.bidfloor, bidfloorcur=slot.bidfloorcur, media=slot.media, w=w, h=h)
