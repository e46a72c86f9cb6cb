"""Decode and validate a `POST /bid` body into the `bid_requests` message (SPEC §2). Pure: no I/O.

Two shapes, told apart by the presence of the top-level key `imp`: the Helios simple form and the
OpenRTB 2.6 BidRequest. A body without `imp` that carries OpenRTB's required `id` and no
`request_id` is an OpenRTB request that lacks its impressions (a 400), not a simple-form request
whose id would be silently replaced. msgspec decodes and validates in one pass; unknown fields are skipped, as
OpenRTB requires. Every failure becomes `InvalidRequest` carrying `[{"loc": ..., "msg": ...}]`, where
`loc` is the path in the body (`imp[0].id`) or `body` for the document itself.
"""

import re
import uuid
from collections.abc import Callable
from typing import Annotated, Literal, TypeVar

import msgspec

from intake.fields import (
    DEFAULT_MAX_IMPS,
    MAX_FORMATS,
    MAX_TMAX_MS,
    Currency,
    Domain,
    Floor,
    Id,
    Ip,
    Pixels,
    SizeText,
    Url,
    UserAgent,
)
from pipeline.messages import (
    DEFAULT_CURRENCY,
    BidRequest,
    Imp,
    Media,
    money_ceil,
    request_digest,
    utc_now,
)

T = TypeVar("T")


class InvalidRequest(ValueError):
    """The body is not an acceptable bid request; `detail` lists what is wrong, where."""

    def __init__(self, detail: list[dict[str, str]]) -> None:
        super().__init__("; ".join(f"{d['loc']}: {d['msg']}" for d in detail))
        self.detail = detail


class _AnyObject(msgspec.Struct):
    """Any JSON object, contents skipped: for members whose presence (not content) matters."""


class _Probe(msgspec.Struct):
    # Raw: the values are skipped, not decoded; only the keys' presence picks the shape.
    imp: msgspec.Raw | msgspec.UnsetType = msgspec.UNSET
    id: msgspec.Raw | msgspec.UnsetType = msgspec.UNSET
    request_id: msgspec.Raw | msgspec.UnsetType = msgspec.UNSET

    def is_openrtb(self) -> bool:
        return self.imp is not msgspec.UNSET or (self.id is not msgspec.UNSET and self.request_id is msgspec.UNSET)


# --- OpenRTB 2.6 (only the members Helios uses; the rest is skipped) ---


class _Format(msgspec.Struct):
    w: Pixels | None = None
    h: Pixels | None = None


class _Banner(msgspec.Struct):
    w: Pixels | None = None
    h: Pixels | None = None
    format: Annotated[list[_Format], msgspec.Meta(max_length=MAX_FORMATS)] | None = None


class _OrtbImp(msgspec.Struct):
    id: Id
    bidfloor: Floor = 0.0
    bidfloorcur: Currency = DEFAULT_CURRENCY
    banner: _Banner | None = None
    video: _AnyObject | None = None
    audio: _AnyObject | None = None
    native: _AnyObject | None = None


class _OrtbSite(msgspec.Struct):
    domain: Domain | None = None
    page: Url | None = None


class _OrtbApp(msgspec.Struct):
    domain: Domain | None = None
    bundle: Domain | None = None


class _OrtbDevice(msgspec.Struct):
    ip: Ip | None = None
    ipv6: Ip | None = None
    ua: UserAgent | None = None


class _OrtbUser(msgspec.Struct):
    id: Id | None = None
    buyeruid: Id | None = None


class _OrtbRequest(msgspec.Struct):
    id: Id
    imp: Annotated[list[_OrtbImp], msgspec.Meta(min_length=1)]
    site: _OrtbSite | None = None
    app: _OrtbApp | None = None
    device: _OrtbDevice | None = None
    user: _OrtbUser | None = None
    tmax: Annotated[int, msgspec.Meta(ge=0, le=MAX_TMAX_MS)] | None = None
    test: Literal[0, 1] | bool = False
    regs: _AnyObject | None = None


# --- Helios simple form (every field optional) ---


class _SimpleSlot(msgspec.Struct):
    id: Id | None = None
    min_bid: Floor = 0.0
    format: Annotated[list[SizeText], msgspec.Meta(max_length=MAX_FORMATS)] | SizeText | None = None


class _SimpleSite(msgspec.Struct):
    domain: Domain | None = None
    page: Url | None = None


class _SimpleDevice(msgspec.Struct):
    ip: Ip | None = None
    user_agent: UserAgent | None = None
    ua: UserAgent | None = None  # synonym of user_agent


class _SimpleRequest(msgspec.Struct):
    request_id: Id | None = None
    user_id: Id | None = None
    site: _SimpleSite | None = None
    device: _SimpleDevice | None = None
    ad_slots: list[_SimpleSlot] | None = None


_probe = msgspec.json.Decoder(_Probe)
_ortb = msgspec.json.Decoder(_OrtbRequest)
_simple = msgspec.json.Decoder(_SimpleRequest)

_ERROR_AT = re.compile(r"^(?P<msg>.*) - at `\$(?P<path>.*)`$", re.DOTALL)
_MISSING_FIELD = re.compile(r"^Object missing required field `(?P<field>[^`]+)`$")


def parse_bid_request(
    body: bytes,
    *,
    max_imps: int = DEFAULT_MAX_IMPS,
    received_at: str | None = None,
    new_request_id: Callable[[], str] | None = None,
) -> BidRequest:
    """Validates a request body and maps it to the `bid_requests` message.

    Raises `InvalidRequest` for anything that is not an acceptable bid request: invalid UTF-8, not
    JSON, not an object, nesting deeper than the decoder's recursion limit, a member of the wrong
    type or out of bounds, more than `max_imps` impressions, or duplicate impression ids.
    """
    now = received_at or utc_now()

    def shaped(data: bytes) -> BidRequest:
        if _probe.decode(data).is_openrtb():
            return _from_openrtb(_ortb.decode(data), now)
        return _from_simple(_simple.decode(data), now, new_request_id or _uuid_hex)

    request = decode_strict(shaped, body)
    check_imps(request.imps, max_imps, "imp" if request.source == "openrtb" else "ad_slots")
    request.request_digest = request_digest(request)
    return request


def decode_strict(decode: Callable[[bytes], T], body: bytes) -> T:
    """`decode(body)` with every failure as `InvalidRequest`: invalid UTF-8 (also inside members
    that are skipped), not JSON, a member of the wrong type or out of bounds, nesting deeper than
    the decoder's recursion limit."""
    try:
        body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InvalidRequest([{"loc": "body", "msg": f"invalid UTF-8 at byte {exc.start}"}]) from None
    try:
        return decode(body)
    except msgspec.ValidationError as exc:
        raise InvalidRequest([_error_item(str(exc))]) from None
    except msgspec.DecodeError as exc:
        raise InvalidRequest([{"loc": "body", "msg": str(exc)}]) from None
    except RecursionError:
        raise InvalidRequest([{"loc": "body", "msg": "JSON is nested too deeply"}]) from None


def _uuid_hex() -> str:
    return uuid.uuid4().hex


def _error_item(message: str) -> dict[str, str]:
    """msgspec's `Expected `str`, got `int` - at `$.imp[0].id`` -> {"loc": "imp[0].id", "msg": ...}."""
    match = _ERROR_AT.match(message)
    msg, path = (match["msg"], match["path"]) if match else (message, "")
    missing = _MISSING_FIELD.match(msg)
    if missing:  # point at the missing member itself
        path = f"{path}.{missing['field']}"
        msg = "Field required"
    loc = path.lstrip(".")
    return {"loc": loc or "body", "msg": msg}


def check_imps(imps: list[Imp], max_imps: int, member: str) -> None:
    if len(imps) > max_imps:
        raise InvalidRequest([{"loc": member, "msg": f"Expected `array` of length <= {max_imps}"}])
    seen: set[str] = set()
    for index, imp in enumerate(imps):
        if imp.imp_id in seen:
            raise InvalidRequest([{"loc": f"{member}[{index}].id", "msg": f"Duplicate id {imp.imp_id!r}"}])
        seen.add(imp.imp_id)


def _from_openrtb(req: _OrtbRequest, received_at: str) -> BidRequest:
    domain = page = None
    if req.site is not None:
        domain, page = req.site.domain, req.site.page
    elif req.app is not None:
        domain = req.app.domain or req.app.bundle
    device = req.device
    user = req.user
    return BidRequest(
        request_id=req.id,
        user_id=(user.id or user.buyeruid) if user is not None else None,
        received_at=received_at,
        source="openrtb",
        site_domain=domain,
        site_page=page,
        device_ip=(device.ip or device.ipv6) if device is not None else None,
        device_ua=device.ua if device is not None else None,
        tmax_ms=req.tmax,
        test=bool(req.test),
        imps=[_ortb_imp(imp) for imp in req.imp],
    )


def _ortb_imp(imp: _OrtbImp) -> Imp:
    media: Media | None = None
    w = h = None
    if imp.banner is not None:
        media = "banner"
        w, h = imp.banner.w, imp.banner.h
        if (w is None or h is None) and imp.banner.format:
            w, h = imp.banner.format[0].w, imp.banner.format[0].h
    elif imp.video is not None:
        media = "video"
    elif imp.audio is not None:
        media = "audio"
    elif imp.native is not None:
        media = "native"
    return Imp(imp_id=imp.id, bidfloor=money_ceil(imp.bidfloor), bidfloorcur=imp.bidfloorcur, media=media, w=w, h=h)


def _from_simple(req: _SimpleRequest, received_at: str, new_request_id: Callable[[], str]) -> BidRequest:
    site, device = req.site, req.device
    slots = req.ad_slots
    imps = [_simple_imp(slot, index) for index, slot in enumerate(slots)] if slots else [Imp(imp_id="1")]
    return BidRequest(
        request_id=req.request_id or new_request_id(),
        user_id=req.user_id,
        received_at=received_at,
        source="helios",
        site_domain=site.domain if site is not None else None,
        site_page=site.page if site is not None else None,
        device_ip=device.ip if device is not None else None,
        device_ua=(device.user_agent or device.ua) if device is not None else None,
        imps=imps,
    )


def _simple_imp(slot: _SimpleSlot, index: int) -> Imp:
    size = slot.format[0] if isinstance(slot.format, list) and slot.format else slot.format
    w = h = None
    if isinstance(size, str):
        width, height = size.lower().split("x")
        w, h = int(width), int(height)
    return Imp(
        imp_id=slot.id or str(index + 1),  # a slot without an id is numbered by its position
        bidfloor=money_ceil(slot.min_bid),
        media="banner" if size else None,
        w=w,
        h=h,
    )
