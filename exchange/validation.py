"""An exchange's checks of a bidder's answer to an OpenRTB 2.6 BidRequest, written from the
specifications and Prebid Server, independently of Helios (it imports nothing from rtb/, bidding/
or campaigns/): `validate(request, status, headers, body)` lists every violation, empty when the
answer would be accepted; `check(...)` says which bids they void (the simulator drops those bids).

Where each check comes from (PBS-Go: prebid-server exchange/bidder_validate_bids.go `validateBid`
and `validateCurrency`; PBS-Java: prebid-server-java validation/ResponseBidValidator.java):

| check       | rule                                                               | source                                    |
|-------------|--------------------------------------------------------------------|-------------------------------------------|
| status      | 200 (a bid) or 204 (no bid)                                        | OpenRTB 2.6 §7.1; SPEC §12                |
| version     | header `x-openrtb-version: 2.6`                                    | OpenRTB 2.6 §2.5; SPEC §12                |
| empty-204   | a 204 has an empty body                                            | OpenRTB 2.6 §7.1 (HTTP 204 No Content)    |
| encoding    | a `Content-Encoding: gzip` body gunzips                            | OpenRTB 2.6 §2.4                          |
| content-type| a 200 is `application/json`                                        | OpenRTB 2.6 §2.3                          |
| json        | a 200 body is a JSON object (no NaN/Infinity)                      | OpenRTB 2.6 §2.3, §4.2.1                  |
| response-id | BidResponse `id` is the request's `id`                             | OpenRTB 2.6 §4.2.1 (required)             |
| cur         | `cur` (default USD) is in the request's `cur` (default [USD])      | PBS-Go validateCurrency                   |
| seatbid     | exactly one seatbid, with a `seat`, holding at least one bid       | SPEC §12 (one seatbid); OpenRTB §4.2.2    |
| bid-id      | each bid has a non-blank, unique `id`                              | PBS-Go/PBS-Java validateBid               |
| impid       | `impid` names an impression of the request                         | PBS-Go validateBid; PBS-Java findCorrespondingImp |
| one-per-imp | at most one bid per impression                                     | SPEC §12                                  |
| price       | a number, finite and > 0                                           | PBS-Go validateBid ("positive 'price'")   |
| floor       | price >= the imp's `bidfloor` (or the deal's), when in USD         | OpenRTB 2.6 §3.2.4; PBS floors enforcement|
| deal        | a `private_auction` imp takes only bids on one of its deals        | OpenRTB 2.6 §3.2.11; PBS-Java deals check |
| crid        | non-blank `crid`                                                   | PBS-Go/PBS-Java ("missing creative ID")   |
| adm         | non-blank `adm` (markup inline)                                    | SPEC §12; PBS-Java (video: adm or nurl)   |
| secure      | on a `secure` imp, `adm` has https: URLs and no http: ones        | PBS-Java validateSecureMarkup             |
| adomain     | a non-empty list of non-blank domains                              | OpenRTB 2.6 §4.2.3 (needed for `badv`)    |
| cid         | non-blank `cid`                                                    | SPEC §12; OpenRTB 2.6 §4.2.3              |
| size        | `w`/`h` positive ints; a banner bid's wxh is the imp's or a `format` | PBS-Java banner size/format validation  |
| mtype       | 1 banner, 2 video, 3 audio, 4 native, and the imp offers that media| OpenRTB 2.6 §4.2.3; PBS-Java banner-imp check |
| bcat        | no `cat` blocked by `bcat` (IAB17 also blocks IAB17-1)             | OpenRTB 2.6 §3.2.1                        |
| badv        | no `adomain` (or parent domain) in `badv`                          | OpenRTB 2.6 §3.2.1                        |
| bapp        | a bid's `bundle` is not in `bapp`                                  | OpenRTB 2.6 §3.2.1                        |
| urls        | `nurl`, `burl`, `lurl` present, absolute http(s) URLs              | SPEC §12; OpenRTB 2.6 §4.2.3, §4.4        |
"""

import gzip
import json
import math
from collections import Counter
from collections.abc import Iterator, Mapping
from typing import Any, NamedTuple
from urllib.parse import urlsplit

MEDIA_BY_MTYPE = {1: "banner", 2: "video", 3: "audio", 4: "native"}
USD = "USD"


class Violation(NamedTuple):
    check: str  # the name in the table above
    message: str

    def __str__(self) -> str:
        return f"{self.check}: {self.message}"


class Checked(NamedTuple):
    """An answer read as an exchange reads it: its document (None when unreadable), what is wrong
    with the answer as a whole (which voids every bid in it), and each bid with what is wrong with it."""

    document: dict[str, Any] | None
    answer: list[Violation]
    bids: list[tuple[Mapping[str, Any], list[Violation]]]

    @property
    def violations(self) -> list[Violation]:
        return [*self.answer, *(v for _, found in self.bids for v in found)]


def validate(request: Mapping[str, Any], status: int, headers: Mapping[str, str], body: bytes) -> list[Violation]:
    """Every rule the answer (`status`, `headers`, raw `body`) to `request` (a decoded BidRequest) breaks."""
    return check(request, status, headers, body).violations


def check(request: Mapping[str, Any], status: int, headers: Mapping[str, str], body: bytes) -> Checked:
    """The answer (`status`, `headers`, raw `body`) to `request` (a decoded BidRequest), checked."""
    heads = {k.lower(): v for k, v in headers.items()}
    found: list[Violation] = []
    if heads.get("x-openrtb-version", "").strip() != "2.6":
        found.append(Violation("version", f"x-openrtb-version is {heads.get('x-openrtb-version')!r}, not '2.6'"))
    if status == 204:
        if body:
            found.append(Violation("empty-204", f"a 204 carries {len(body)} bytes"))
        return Checked(None, found, [])
    if status != 200:
        return Checked(
            None, [*found, Violation("status", f"status {status} is neither 200 (bid) nor 204 (no bid)")], []
        )
    if "application/json" not in heads.get("content-type", "").lower():
        found.append(Violation("content-type", f"content-type is {heads.get('content-type')!r}"))
    document = _document(heads, body, found)
    if document is None:
        return Checked(None, found, [])
    found.extend(_response(request, document))
    bids = _bids(document) or []
    if bids:
        found.extend(_across_bids(bids))
    imps = {imp.get("id"): imp for imp in request.get("imp") or [] if isinstance(imp, dict)}
    return Checked(document, found, [(bid, list(_bid(request, imps, bid))) for bid in bids])


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _document(heads: Mapping[str, str], body: bytes, found: list[Violation]) -> dict[str, Any] | None:
    if "gzip" in heads.get("content-encoding", "").lower():
        try:
            body = gzip.decompress(body)
        except (OSError, EOFError) as e:
            found.append(Violation("encoding", f"Content-Encoding gzip, but the body does not gunzip: {e}"))
            return None
    try:
        document = json.loads(body, parse_constant=_reject_constant)
    except ValueError as e:  # JSONDecodeError and UnicodeDecodeError are ValueErrors
        found.append(Violation("json", f"the body is not JSON: {e}"))
        return None
    if not isinstance(document, dict):
        found.append(Violation("json", f"the body is a JSON {type(document).__name__}, not an object"))
        return None
    return document


def _bids(response: Mapping[str, Any]) -> list[dict[str, Any]] | None:
    """The one seatbid's bids, or None when the answer has no such list."""
    seatbids = response.get("seatbid")
    if not isinstance(seatbids, list) or len(seatbids) != 1 or not isinstance(seatbids[0], dict):
        return None
    bids = seatbids[0].get("bid")
    if not isinstance(bids, list) or not bids or not all(isinstance(b, dict) for b in bids):
        return None
    return bids


def _response(request: Mapping[str, Any], response: Mapping[str, Any]) -> Iterator[Violation]:
    if response.get("id") != request.get("id"):
        yield Violation("response-id", f"id {response.get('id')!r} is not the request's {request.get('id')!r}")
    cur = response.get("cur", USD)
    allowed = [c.upper() for c in _strings(request.get("cur"))] or [USD]
    if not isinstance(cur, str) or cur.upper() not in allowed:
        yield Violation("cur", f"cur {cur!r} is not one of the request's {allowed}")
    seatbids = response.get("seatbid")
    if not isinstance(seatbids, list) or len(seatbids) != 1 or not isinstance(seatbids[0], dict):
        yield Violation("seatbid", f"not exactly one seatbid object: {seatbids!r:.200}")
        return
    if not _text(seatbids[0].get("seat")):
        yield Violation("seatbid", f"seat {seatbids[0].get('seat')!r} is blank")
    if _bids(response) is None:
        yield Violation("seatbid", f"a 200 whose seatbid holds no list of bids: {seatbids[0].get('bid')!r:.200}")


def _across_bids(bids: list[dict[str, Any]]) -> Iterator[Violation]:
    for bid_id, n in Counter(b.get("id") for b in bids).items():
        if n > 1:
            yield Violation("bid-id", f"{n} bids share id {bid_id!r}")
    for impid, n in Counter(b.get("impid") for b in bids).items():
        if n > 1:
            yield Violation("one-per-imp", f"{n} bids for impression {impid!r}")


def _bid(
    request: Mapping[str, Any], imps: Mapping[Any, Mapping[str, Any]], bid: Mapping[str, Any]
) -> Iterator[Violation]:
    name = f"bid {bid.get('id')!r}"
    if not _text(bid.get("id")):
        yield Violation("bid-id", f"{name}: blank id")
    for field in ("crid", "adm", "cid"):
        if not _text(bid.get(field)):
            yield Violation(field, f"{name}: blank {field} {bid.get(field)!r:.80}")
    adomain = bid.get("adomain")
    if not isinstance(adomain, list) or not adomain or not all(_text(d) for d in adomain):
        yield Violation("adomain", f"{name}: adomain {adomain!r} is not a non-empty list of domains")
    yield from _urls(name, bid)
    yield from _blocks(request, name, bid)
    imp = imps.get(bid.get("impid"))
    if imp is None:
        yield Violation("impid", f"{name}: impid {bid.get('impid')!r} names no impression of the request")
        return
    price = bid.get("price")
    if isinstance(price, bool) or not isinstance(price, int | float) or not math.isfinite(price) or price <= 0:
        yield Violation("price", f"{name}: price {price!r} is not a finite number > 0")
    else:
        yield from _floor(name, imp, bid, float(price))
    yield from _media(name, imp, bid)
    adm = bid.get("adm")
    if imp.get("secure") in (1, True) and isinstance(adm, str) and _insecure(adm):
        yield Violation("secure", f"{name}: markup {adm!r:.120} is not https-only on a secure impression")


def _insecure(markup: str) -> bool:
    lowered = markup.lower()
    return "http:" in lowered or "http%3a" in lowered or not ("https:" in lowered or "https%3a" in lowered)


def _floor(name: str, imp: Mapping[str, Any], bid: Mapping[str, Any], price: float) -> Iterator[Violation]:
    pmp: Mapping[str, Any] = imp["pmp"] if isinstance(imp.get("pmp"), dict) else {}
    deals: dict[str, Mapping[str, Any]] = {str(d.get("id")): d for d in pmp.get("deals") or [] if isinstance(d, dict)}
    deal = deals.get(str(bid["dealid"])) if bid.get("dealid") is not None else None
    if bid.get("dealid") is not None and deal is None:
        yield Violation("deal", f"{name}: dealid {bid.get('dealid')!r} is not a deal of its impression")
    elif deal is None and pmp.get("private_auction") in (1, True):
        yield Violation("deal", f"{name}: an open-auction bid on a private auction (deals {sorted(deals)})")
    floor_of = deal if deal is not None else imp
    floor, currency = floor_of.get("bidfloor", 0), str(floor_of.get("bidfloorcur") or USD).strip().upper()
    if currency == USD and isinstance(floor, int | float) and price < floor:
        yield Violation("floor", f"{name}: price {price} is under the floor {floor} USD")


def _media(name: str, imp: Mapping[str, Any], bid: Mapping[str, Any]) -> Iterator[Violation]:
    offered = [m for m in MEDIA_BY_MTYPE.values() if isinstance(imp.get(m), dict)]
    mtype = bid.get("mtype")
    media = MEDIA_BY_MTYPE.get(mtype) if isinstance(mtype, int) and not isinstance(mtype, bool) else None
    if media is None or (offered and media not in offered):
        yield Violation("mtype", f"{name}: mtype {mtype!r} does not name a media the impression offers {offered}")
    w, h = bid.get("w"), bid.get("h")
    banner = media == "banner" and isinstance(imp.get("banner"), dict)
    if w is None and h is None and not banner:
        return  # a video/audio/native bid may leave its size out
    if not (_positive_int(w) and _positive_int(h)):
        yield Violation("size", f"{name}: wxh {w!r}x{h!r} are not positive integers")
    elif banner:
        sizes = _banner_sizes(imp["banner"])
        if sizes and (w, h) not in sizes:
            yield Violation("size", f"{name}: {w}x{h} is not one of the impression's sizes {sorted(sizes)}")


def _banner_sizes(banner: Mapping[str, Any]) -> set[tuple[int, int]]:
    """The banner's wxh and its `format` sizes; empty (any size) for an interstitial's 0x0."""
    candidates = [banner, *[f for f in banner.get("format") or [] if isinstance(f, dict)]]
    return {(c["w"], c["h"]) for c in candidates if _positive_int(c.get("w")) and _positive_int(c.get("h"))}


def _blocks(request: Mapping[str, Any], name: str, bid: Mapping[str, Any]) -> Iterator[Violation]:
    bcat = set(_strings(request.get("bcat")))
    for cat in _strings(bid.get("cat")):
        if cat in bcat or cat.split("-", 1)[0] in bcat:
            yield Violation("bcat", f"{name}: category {cat!r} is blocked by bcat {sorted(bcat)}")
    badv = {d.lower() for d in _strings(request.get("badv"))}
    for domain in _strings(bid.get("adomain")):
        parts = domain.lower().rstrip(".").split(".")
        if badv.intersection(".".join(parts[i:]) for i in range(len(parts))):
            yield Violation("badv", f"{name}: adomain {domain!r} is blocked by badv {sorted(badv)}")
    if bid.get("bundle") is not None and bid.get("bundle") in _strings(request.get("bapp")):
        yield Violation("bapp", f"{name}: bundle {bid.get('bundle')!r} is blocked by bapp")


def _urls(name: str, bid: Mapping[str, Any]) -> Iterator[Violation]:
    for field in ("nurl", "burl", "lurl"):
        url = bid.get(field)
        parts = urlsplit(url) if isinstance(url, str) and not any(c.isspace() for c in url) else None
        if parts is None or parts.scheme not in ("http", "https") or not parts.hostname:
            yield Violation("urls", f"{name}: {field} {url!r:.120} is not an absolute http(s) URL")


def _strings(value: Any) -> list[str]:
    return [v for v in value if isinstance(v, str)] if isinstance(value, list) else []


def _text(value: Any) -> bool:
    return isinstance(value, str) and bool(value.strip())


def _positive_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value > 0
