"""The exchange-side validator (exchange/validation.py) on handmade answers: a good one passes, and
each check is shown to fail on an answer that breaks that rule alone."""

import copy
import gzip
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from exchange.validation import Violation, validate

EXAMPLES = sorted((Path(__file__).parent / "examples").glob("*/*.json"))
HEADERS = {"Content-Type": "application/json", "X-OpenRTB-Version": "2.6"}

REQUEST: dict[str, Any] = {
    "id": "req-1",
    "cur": ["USD", "EUR"],
    "bcat": ["IAB25", "IAB7"],
    "badv": ["rival.example"],
    "bapp": ["com.rival.app"],
    "imp": [
        {"id": "1", "bidfloor": 0.5, "banner": {"w": 300, "h": 250, "format": [{"w": 728, "h": 90}]}},
        {"id": "2", "bidfloor": 1.0, "bidfloorcur": "USD", "video": {"w": 640, "h": 480, "mimes": ["video/mp4"]}},
        {"id": "3", "bidfloor": 0.1, "instl": 1, "secure": 1, "banner": {"w": 0, "h": 0}},  # an interstitial: any size
        {"id": "4", "bidfloor": 9.0, "bidfloorcur": "EUR", "native": {"request": "{}"}},  # a floor not in USD
        {"id": "5", "bidfloor": 0.2, "banner": {"w": 300, "h": 250},
         "pmp": {"private_auction": 1, "deals": [{"id": "deal-1", "bidfloor": 2.0}]}},
    ],
    "site": {"domain": "news.example"},
}  # fmt: skip


def bid(n: str, **fields: Any) -> dict[str, Any]:
    base = {
        "id": f"bid-{n}", "impid": n, "price": 1.25, "adm": "<div>ad</div>", "adomain": ["adv.example"],
        "crid": f"cr-{n}", "cid": "7", "cat": ["IAB2"], "w": 300, "h": 250, "mtype": 1,
        "nurl": "https://ads.helios.example/win?p=${AUCTION_PRICE}&t=abc",
        "burl": "https://ads.helios.example/bill?p=${AUCTION_PRICE}&t=abc",
        "lurl": "http://ads.helios.example/loss?r=${AUCTION_LOSS}&t=abc",
    }  # fmt: skip
    return {**base, **fields}


RESPONSE: dict[str, Any] = {
    "id": "req-1",
    "bidid": "resp-1",
    "cur": "USD",
    "seatbid": [
        {
            "seat": "helios",
            "bid": [
                bid("1"),
                bid("2", price=1.0, w=640, h=480, mtype=2, adm="<VAST version='4.2'></VAST>"),
                bid("3", w=320, h=480, adm='<a href="https://adv.example/"><img src="https://cdn.example/a.png"></a>'),
                bid("4", price=1.0, mtype=4, w=None, h=None),
                bid("5", price=2.0, dealid="deal-1"),
            ],
        }
    ],
}


def checks(found: list[Violation]) -> set[str]:
    return {v.check for v in found}


def answer(response: Any, *, status: int = 200, headers: dict[str, str] | None = None,
           request: dict[str, Any] | None = None) -> list[Violation]:  # fmt: skip
    body = json.dumps(response).encode() if not isinstance(response, bytes) else response
    return validate(request or REQUEST, status, HEADERS if headers is None else headers, body)


def first_bid(**fields: Any) -> Callable[[dict[str, Any]], None]:
    def mutate(response: dict[str, Any]) -> None:
        target = response["seatbid"][0]["bid"][0]
        target.update(fields)
        for name in [k for k, v in fields.items() if v is ...]:
            del target[name]

    return mutate


def test_a_good_answer_passes() -> None:
    assert answer(RESPONSE) == []
    assert (
        answer(RESPONSE, headers={"content-type": "application/json; charset=utf-8", "x-openrtb-version": "2.6"}) == []
    )


def test_a_gzipped_answer_is_read() -> None:
    gzipped = gzip.compress(json.dumps(RESPONSE).encode())
    assert answer(gzipped, headers={**HEADERS, "Content-Encoding": "gzip"}) == []


def test_a_204_with_the_header_and_no_body_passes() -> None:
    assert answer(b"", status=204, headers={"x-openrtb-version": "2.6"}) == []


@pytest.mark.parametrize(
    ("mutate", "check"),
    [
        pytest.param(lambda r: r.update(id="req-2"), "response-id", id="response-id"),
        pytest.param(lambda r: r.update(cur="GBP"), "cur", id="cur-not-allowed"),
        pytest.param(lambda r: r.update(cur=None), "cur", id="cur-not-a-string"),
        pytest.param(lambda r: r.update(seatbid=[]), "seatbid", id="no-seatbid"),
        pytest.param(lambda r: r["seatbid"].append({"seat": "x", "bid": [bid("1")]}), "seatbid", id="two-seatbids"),
        pytest.param(lambda r: r["seatbid"][0].update(seat=" "), "seatbid", id="blank-seat"),
        pytest.param(lambda r: r["seatbid"][0].update(bid=[]), "seatbid", id="no-bids"),
        pytest.param(first_bid(id=""), "bid-id", id="blank-bid-id"),
        pytest.param(lambda r: r["seatbid"][0]["bid"][1].update(id="bid-1"), "bid-id", id="duplicate-bid-id"),
        pytest.param(first_bid(impid="9"), "impid", id="unknown-impid"),
        pytest.param(first_bid(impid=...), "impid", id="no-impid"),
        pytest.param(lambda r: r["seatbid"][0]["bid"][1].update(impid="1", mtype=1, w=300, h=250), "one-per-imp",
                     id="two-bids-one-imp"),
        pytest.param(first_bid(price=0), "price", id="zero-price"),
        pytest.param(first_bid(price=-1.5), "price", id="negative-price"),
        pytest.param(first_bid(price="1.25"), "price", id="price-as-text"),
        pytest.param(first_bid(price=True), "price", id="price-as-bool"),
        pytest.param(first_bid(price=0.49), "floor", id="under-the-floor"),
        pytest.param(lambda r: r["seatbid"][0]["bid"][4].update(price=1.5), "floor", id="under-the-deal-floor"),
        pytest.param(lambda r: r["seatbid"][0]["bid"][4].pop("dealid"), "deal", id="open-bid-on-private-auction"),
        pytest.param(first_bid(dealid="deal-9"), "deal", id="unknown-deal"),
        pytest.param(lambda r: r["seatbid"][0]["bid"][2].update(adm='<img src="http://cdn.example/a.png">'), "secure",
                     id="http-markup-on-secure-imp"),
        pytest.param(lambda r: r["seatbid"][0]["bid"][2].update(adm="<div>no url</div>"), "secure",
                     id="markup-without-https-on-secure-imp"),
        pytest.param(first_bid(crid=""), "crid", id="blank-crid"),
        pytest.param(first_bid(adm=...), "adm", id="no-adm"),
        pytest.param(first_bid(adomain=[]), "adomain", id="empty-adomain"),
        pytest.param(first_bid(adomain="adv.example"), "adomain", id="adomain-not-a-list"),
        pytest.param(first_bid(cid=...), "cid", id="no-cid"),
        pytest.param(first_bid(w=320, h=50), "size", id="banner-size-not-offered"),
        pytest.param(first_bid(w=0), "size", id="zero-width"),
        pytest.param(first_bid(h=...), "size", id="banner-without-height"),
        pytest.param(lambda r: r["seatbid"][0]["bid"][1].update(w=-640), "size", id="negative-video-width"),
        pytest.param(first_bid(mtype=...), "mtype", id="no-mtype"),
        pytest.param(first_bid(mtype=2), "mtype", id="video-mtype-on-banner-imp"),
        pytest.param(first_bid(mtype=5), "mtype", id="unknown-mtype"),
        pytest.param(first_bid(cat=["IAB25"]), "bcat", id="blocked-category"),
        pytest.param(first_bid(cat=["IAB2", "IAB7-39"]), "bcat", id="blocked-by-parent-category"),
        pytest.param(first_bid(adomain=["rival.example"]), "badv", id="blocked-advertiser"),
        pytest.param(first_bid(adomain=["shop.Rival.example"]), "badv", id="blocked-advertiser-subdomain"),
        pytest.param(first_bid(bundle="com.rival.app"), "bapp", id="blocked-app"),
        pytest.param(first_bid(nurl=...), "urls", id="no-nurl"),
        pytest.param(first_bid(burl="/bill?p=1"), "urls", id="relative-burl"),
        pytest.param(first_bid(lurl="ftp://ads.helios.example/loss"), "urls", id="ftp-lurl"),
        pytest.param(first_bid(nurl="https:///win"), "urls", id="url-without-host"),
        pytest.param(first_bid(nurl="https://ads.helios.example/win?a b"), "urls", id="url-with-space"),
    ],
)  # fmt: skip
def test_each_check_fails_on_the_answer_that_breaks_it(mutate: Callable[[dict[str, Any]], None], check: str) -> None:
    response = copy.deepcopy(RESPONSE)
    mutate(response)
    found = answer(response)
    assert checks(found) == {check}, found


@pytest.mark.parametrize(
    ("status", "headers", "body", "check"),
    [
        pytest.param(500, HEADERS, b"", "status", id="server-error"),
        pytest.param(202, HEADERS, b"", "status", id="accepted-is-not-an-answer"),
        pytest.param(204, {}, b"", "version", id="204-without-version"),
        pytest.param(200, {**HEADERS, "x-openrtb-version": "2.5"}, None, "version", id="wrong-version"),
        pytest.param(204, HEADERS, b"{}", "empty-204", id="204-with-a-body"),
        pytest.param(200, {**HEADERS, "Content-Encoding": "gzip"}, None, "encoding", id="gzip-header-plain-body"),
        pytest.param(200, {**HEADERS, "Content-Type": "text/html"}, None, "content-type", id="not-json-type"),
        pytest.param(200, HEADERS, b"<html>", "json", id="not-json"),
        pytest.param(200, HEADERS, b"[]", "json", id="json-array"),
        pytest.param(200, HEADERS, b"", "json", id="empty-200"),
        pytest.param(200, HEADERS, b'{"id": "req-1", "seatbid": [{"seat": "s", "bid": [{"price": NaN}]}]}', "json",
                     id="nan-literal"),
    ],
)  # fmt: skip
def test_transport_checks(status: int, headers: dict[str, str], body: bytes | None, check: str) -> None:
    found = answer(json.dumps(RESPONSE).encode() if body is None else body, status=status, headers=headers)
    assert checks(found) == {check}, found


def test_an_infinite_price_is_refused() -> None:
    body = json.dumps(RESPONSE).replace('"price": 1.25', '"price": 1e400', 1).encode()
    assert checks(answer(body)) == {"price"}


def test_without_cur_in_the_request_only_usd_is_allowed() -> None:
    request = {**REQUEST, "cur": None}
    assert answer(RESPONSE, request=request) == []
    assert checks(answer({**RESPONSE, "cur": "EUR"}, request=request)) == {"cur"}
    assert answer({**RESPONSE, "cur": "EUR"}) == []  # the request allows EUR


def test_violations_read_as_check_and_message() -> None:
    response = copy.deepcopy(RESPONSE)
    first_bid(price=0)(response)
    assert [str(v) for v in answer(response)] == ["price: bid 'bid-1': price 0 is not a finite number > 0"]


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: f"{p.parent.name}/{p.stem}")
def test_the_iab_examples_are_bid_requests_the_validator_reads(path: Path) -> None:
    """Each example parses, and the validator judges a plain bid on its first impression: accepted,
    except where the example forbids an open-market bid (its private auction)."""
    request = json.loads(path.read_text())
    assert request["id"] and request["imp"] and all(imp["id"] for imp in request["imp"])
    assert answer(b"", status=204, request=request) == []
    imp = request["imp"][0]
    media = next(m for m in ("banner", "video", "audio", "native") if m in imp)
    mtype = {"banner": 1, "video": 2, "audio": 3, "native": 4}[media]
    size = {"w": imp[media]["w"], "h": imp[media]["h"]} if media in ("banner", "video") else {}
    response = {"id": request["id"], "cur": "USD",
                "seatbid": [{"seat": "helios", "bid": [bid(imp["id"], mtype=mtype, price=1.0, **size)]}]}  # fmt: skip
    private = imp.get("pmp", {}).get("private_auction") == 1
    assert checks(answer(response, request=request)) == ({"deal"} if private else set())
