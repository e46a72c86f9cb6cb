"""The simulator (exchange/simulator.py) against small fake bidders served in-process by aiohttp: what
it counts, which notices it calls with which macros, how it treats late and invalid answers."""

import asyncio
import itertools
import json
from collections.abc import Callable
from decimal import Decimal
from typing import Any
from urllib.parse import parse_qs, urlsplit

from aiohttp import web

from exchange.simulator import Config, Exchange

D = Decimal

Bidder = Callable[[dict[str, Any]], list[dict[str, Any]]]
NOTICE = "{base}/notice/{kind}?auction=${{AUCTION_ID}}&bid=${{AUCTION_BID_ID}}&imp=${{AUCTION_IMP_ID}}"
NOTICE += "&price=${{AUCTION_PRICE}}&cur=${{AUCTION_CURRENCY}}&seat=${{AUCTION_SEAT_ID}}&p64=${{AUCTION_PRICE:B64}}"
LOSS = "&loss=${AUCTION_LOSS}&min=${AUCTION_MIN_TO_WIN}"


def banner_bid(imp: dict[str, Any], price: float, base: str, **fields: Any) -> dict[str, Any]:
    banner = imp["banner"]
    w, h = (banner["w"], banner["h"]) if "w" in banner else (banner["format"][0]["w"], banner["format"][0]["h"])
    return {"id": f"b{imp['id']}", "impid": imp["id"], "price": price, "crid": "cr-1", "cid": "7", "mtype": 1,
            "adm": '<img src="https://fake.example/i.png?p=${AUCTION_PRICE}">', "adomain": ["fake.example"],
            "cat": ["IAB1"], "w": w, "h": h, "nurl": NOTICE.format(base=base, kind="win"),
            "burl": NOTICE.format(base=base, kind="bill"), "lurl": NOTICE.format(base=base, kind="loss") + LOSS,
            **fields}  # fmt: skip


async def play(config: Config, bid: Callable[[dict[str, Any], str], dict[str, Any] | None], delay_s: float = 0):
    """Runs the simulator against a fake bidder; returns its summary and the notices it received."""
    notices: list[tuple[str, dict[str, list[str]]]] = []

    async def openrtb(request: web.Request) -> web.Response:
        body = await request.json()
        await asyncio.sleep(delay_s)
        bids = [b for imp in body["imp"] if "banner" in imp and (b := bid(imp, base)) is not None]
        if not bids:
            return web.Response(status=204, headers={"x-openrtb-version": "2.6"})
        answer = {"id": body["id"], "bidid": f"r-{body['id']}", "cur": "USD", "seatbid": [{"seat": "s1", "bid": bids}]}
        return web.json_response(answer, headers={"x-openrtb-version": "2.6"})

    async def notice(request: web.Request) -> web.Response:
        notices.append((request.match_info["kind"], parse_qs(urlsplit(str(request.url)).query, keep_blank_values=True)))
        return web.Response(status=204)

    app = web.Application()
    app.add_routes([web.post("/openrtb2/bid", openrtb), web.get("/notice/{kind}", notice)])
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    base = f"http://127.0.0.1:{port}"
    try:
        summary = await Exchange(Config(**{**config.__dict__, "url": base})).run()
    finally:
        await runner.cleanup()
    return summary, notices


FAST = Config(rate=100, duration_s=1, seed=3, bill_delay_ms=10, bill_retry_ms=10, tmax_ms=2000, progress=False)


def test_a_bidder_that_always_outbids_wins_everything_and_is_billed_three_times():
    summary, notices = asyncio.run(play(FAST, lambda imp, base: banner_bid(imp, 50.0, base)))
    assert summary["requests"] == 100 and summary["timeouts"] == 0 and summary["invalid_bids"] == 0
    assert summary["bids"] == summary["wins"] > 0 and summary["losses"] == {}
    assert summary["notices_sent"] == {"win": summary["wins"], "bill": 3 * summary["wins"], "loss": 0}
    assert summary["notice_answers"]["bill"] == {"204": 3 * summary["wins"]}
    wins = [q for kind, q in notices if kind == "win"]
    assert len(wins) == summary["wins"]
    for query in wins:  # first price: the clearing price is the bid; every macro substituted
        assert query["price"] == ["50.0"] and query["cur"] == ["USD"] and query["seat"] == ["s1"]
        assert query["bid"] == [f"r-{query['auction'][0]}"] and query["imp"][0].isdigit()
        assert query["p64"] == ["NTAuMA"]  # "50.0" in URL-safe Base64
    spend = sum(D(q["price"][0]) for q in wins) / 1000
    assert D(str(summary["spend"])) == spend


def test_second_price_bills_the_second_bid_plus_a_cent_and_never_more_than_the_bid():
    config = Config(**{**FAST.__dict__, "auction": "second", "competitors": 3})
    summary, notices = asyncio.run(play(config, lambda imp, base: banner_bid(imp, 50.0, base)))
    bills = [D(q["price"][0]) for kind, q in notices if kind == "bill"]
    assert len(bills) == 3 * summary["wins"] and all(D("0.01") <= p < D("50") for p in bills)
    assert D(str(summary["spend"])) == sum(bills) / 3 / 1000


def test_a_low_bidder_loses_to_the_competitors_and_hears_why():
    def low(imp: dict[str, Any], base: str) -> dict[str, Any] | None:
        return None if imp.get("bidfloor") else banner_bid(imp, 0.01, base)

    summary, notices = asyncio.run(play(FAST, low))
    assert summary["wins"] == 0 and summary["losses"] == {"102": summary["bids"]} and summary["bids"] > 0
    losses = [q for kind, q in notices if kind == "loss"]
    assert len(losses) == summary["bids"]
    for query in losses:
        assert query["loss"] == ["102"] and query["price"] == [""] and D(query["min"][0]) > D("0.01")


def test_invalid_bids_are_counted_by_reason_kept_out_and_told_loss_3():
    summary, notices = asyncio.run(play(FAST, lambda imp, base: banner_bid(imp, 50.0, base, crid="", adomain=[])))
    assert summary["bids"] > 0 and summary["invalid_bids"] == summary["bids"] and summary["wins"] == 0
    assert summary["invalid_bids_by_reason"] == {"crid": summary["bids"], "adomain": summary["bids"]}
    assert summary["losses"] == {"3": summary["bids"]}
    assert {q["loss"][0] for kind, q in notices if kind == "loss"} == {"3"}
    assert {q["min"][0] for kind, q in notices if kind == "loss"} == {""}  # §4.4.1: empty for an invalid bid


def test_answers_later_than_tmax_are_dropped_and_counted():
    config = Config(**{**FAST.__dict__, "rate": 20, "tmax_ms": 50})
    summary, notices = asyncio.run(play(config, lambda imp, base: banner_bid(imp, 50.0, base), delay_s=0.5))
    assert summary["requests"] == summary["timeouts"] == 20
    assert summary["answered"] == summary["bids"] == 0 and notices == []
    assert json.loads(json.dumps(summary)) == summary  # --json writes it as is


def test_requests_go_to_several_handlers_in_turn():
    counts: list[int] = [0, 0]

    async def main() -> dict[str, Any]:
        runners, urls = [], []
        for n in range(2):

            async def openrtb(request: web.Request, n: int = n) -> web.Response:
                counts[n] += 1
                return web.Response(status=204, headers={"x-openrtb-version": "2.6"})

            app = web.Application()
            app.add_routes([web.post("/openrtb2/bid", openrtb)])
            runner = web.AppRunner(app)
            await runner.setup()
            site = web.TCPSite(runner, "127.0.0.1", 0)
            await site.start()
            runners.append(runner)
            urls.append(f"http://127.0.0.1:{site._server.sockets[0].getsockname()[1]}")  # type: ignore[union-attr]
        try:
            return await Exchange(Config(**{**FAST.__dict__, "url": "http://127.0.0.1:9", "urls": tuple(urls)})).run()
        finally:
            for runner in runners:
                await runner.cleanup()

    summary = asyncio.run(main())
    assert summary["requests"] == 100 and summary["no_bid_answers"] == 100 and summary["errors"] == {}
    assert counts == [50, 50]


def test_a_notice_not_delivered_is_tried_again_until_it_is_and_a_4xx_is_final():
    """A handler restarting (503, refused connections) delays notices but loses none; a refusal is final."""
    tries: dict[str, int] = {}
    prices = itertools.cycle([50.0, 0.01])  # every other bid wins, the others lose

    async def main() -> tuple[dict[str, Any], dict[str, int]]:
        async def notice(request: web.Request) -> web.Response:
            key = f"{request.match_info['kind']}:{request.query['auction']}:{request.query['imp']}"
            tries[key] = tries.get(key, 0) + 1
            if request.match_info["kind"] == "loss":
                return web.Response(status=403)  # final: not tried again
            return web.Response(status=503 if tries[key] % 2 else 204)  # every other try fails

        app = web.Application()
        app.add_routes([web.get("/notice/{kind}", notice)])
        runner = web.AppRunner(app)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        notices = f"http://127.0.0.1:{site._server.sockets[0].getsockname()[1]}"  # type: ignore[union-attr]
        try:
            config = Config(**{**FAST.__dict__, "notice_retry_ms": 5})
            summary, _ = await play(config, lambda imp, base: banner_bid(imp, next(prices), notices))
        finally:
            await runner.cleanup()
        return summary, tries

    summary, tries = asyncio.run(main())
    wins, losses = summary["wins"], sum(summary["losses"].values())
    assert wins > 0 and losses > 0
    assert summary["notices_sent"] == {"win": wins, "bill": 3 * wins, "loss": losses}
    assert summary["notice_retries"] == {"win": wins, "bill": 3 * wins, "loss": 0}
    assert summary["notice_answers"]["bill"] == {"503": 3 * wins, "204": 3 * wins}
    assert summary["notice_answers"]["loss"] == {"403": losses}
    assert summary["notices_undelivered"] == {"win": 0, "bill": 0, "loss": 0}
    assert summary["billed"] == wins and summary["billed_spend"] == summary["spend"]


def test_a_notice_nobody_answers_is_given_up_after_the_retry_time_and_its_win_is_not_billed():
    def closed(imp: dict[str, Any], base: str) -> dict[str, Any]:
        return banner_bid(imp, 50.0, "http://127.0.0.1:9")  # nothing listens: refused

    config = Config(**{**FAST.__dict__, "rate": 10, "notice_retry_ms": 10, "notice_retry_for_s": 0.05})
    summary, _ = asyncio.run(play(config, closed))
    wins = summary["wins"]
    assert wins > 0 and summary["billed"] == 0 and summary["billed_spend"] == 0
    assert summary["notices_undelivered"] == {"win": wins, "bill": 3 * wins, "loss": 0}
    answers = summary["notice_answers"]["win"]
    assert set(answers) == {"ClientConnectorError"} and answers["ClientConnectorError"] > wins  # tried again
