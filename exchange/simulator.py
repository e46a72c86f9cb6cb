"""A simulated OpenRTB 2.6 exchange playing against `/openrtb2/bid` (SPEC §15).

Open loop: request i leaves at start + i/rate whatever the answers do. Each request (exchange/
requests.py) waits at most its `tmax`: a later answer is dropped and counted, as an exchange drops
it. The answer is checked as an exchange checks it (exchange/validation.py): a bid breaking a rule
is counted by reason and kept out of the auction (it gets its lurl with loss code 3). Every
impression is then auctioned (exchange/auction.py) among Helios's valid bid and N synthetic
competitors drawn from the seed: the winner's nurl is called at once and its burl after a delay,
K times (exchanges retry billing notices); a loser's lurl carries its loss code and min-to-win.
Every §4.4 macro is substituted (exchange/macros.py) in the URLs and the markup. A notice that
could not be delivered (no connection, no answer in time, a 5xx) is tried again at the same URL
every `notice_retry_ms` for `notice_retry_for_s`, as an exchange retries it; a 4xx is final. Every
try is counted by kind and by the status it was answered with, whatever it is; a win is *billed*
once one of its billing notices got a 2xx.
"""

import asyncio
import json
import random
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import aiohttp
import yarl
from tqdm import tqdm

from exchange.auction import FIRST, Offer, Outcome, competitor_prices, run_auction, seeded_order
from exchange.macros import Value, market_bid_ratio, substitute
from exchange.requests import build
from exchange.stats import Stats
from exchange.validation import Checked, check

HELIOS = "helios"
DEFAULT_TMAX_MS = 120  # OpenRTB leaves a missing tmax to the exchange; SPEC §12's default
HEADERS = {"Content-Type": "application/json", "x-openrtb-version": "2.6", "Accept-Encoding": "gzip"}


@dataclass(frozen=True)
class Config:
    url: str = "http://127.0.0.1:8080"  # the handler; requests go to <url>/openrtb2/bid
    urls: tuple[str, ...] = ()  # several handlers: request i goes to urls[i % len(urls)] (url is then unused)
    rate: float = 50.0  # requests per second
    duration_s: float = 10.0
    auction: str = FIRST
    competitors: int = 3
    seed: int = 1
    bill_delay_ms: int = 1000  # from the win notice to the first billing notice
    bill_repeats: int = 3  # how many times each billing notice is sent (exchanges retry)
    bill_retry_ms: int = 1000  # between two sends of one billing notice
    tmax_ms: int | None = DEFAULT_TMAX_MS  # every request's tmax; None: the request builder's mix
    rates: Mapping[str, Decimal] = field(default_factory=lambda: {"USD": Decimal(1), "EUR": Decimal("1.08")})
    synthetic_users: int = 0  # known users also include synth-000001.. (manage.py seed_profiles --synthetic)
    connections: int = 256
    notice_timeout_s: float = 5.0
    notice_retry_ms: int = 1000  # between two tries of a notice that was not delivered
    notice_retry_for_s: float = 60.0  # then it is given up (exchanges retry for about a minute)
    progress: bool = True


class Exchange:
    def __init__(self, config: Config) -> None:
        self.config = config
        self.stats = Stats()
        self._tasks: set[asyncio.Task[None]] = set()
        self._session: aiohttp.ClientSession | None = None
        self._bar: Any = None  # the tqdm progress bar while it runs

    async def run(self) -> dict[str, Any]:
        """Plays the whole run, waits for its last notices and returns the summary."""
        c = self.config
        total = round(c.rate * c.duration_s)
        connector = aiohttp.TCPConnector(limit=c.connections)
        started = time.perf_counter()
        async with aiohttp.ClientSession(connector=connector, auto_decompress=False) as session:
            self._session = session
            with tqdm(total=total, unit="req", disable=not c.progress, dynamic_ncols=True) as bar:
                self._bar = bar
                await self._send_all(total)
                while self._tasks:
                    await asyncio.gather(*list(self._tasks))
                self._postfix(force=True)
        elapsed = time.perf_counter() - started
        return self.stats.summary(rate=c.rate, duration_s=c.duration_s, elapsed_s=elapsed, auction=c.auction)

    async def _send_all(self, total: int) -> None:
        loop, rng = asyncio.get_running_loop(), random.Random(self.config.seed)
        start = loop.time()
        for i in range(total):
            late = loop.time() - (start + i / self.config.rate)
            if late < 0:
                await asyncio.sleep(-late)
            else:
                self.stats.behind_ms = max(self.stats.behind_ms, late * 1000)
            body = build(rng, synthetic_users=self.config.synthetic_users).body
            if self.config.tmax_ms is not None:
                body["tmax"] = self.config.tmax_ms
            self._spawn(self._request(i, body))

    def _spawn(self, coroutine: Any) -> None:
        task = asyncio.create_task(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _request(self, i: int, body: dict[str, Any]) -> None:
        try:
            answer = await self._post(self._target(i), body)
            if answer is not None:
                self._auction(i, body, check(body, *answer))
        finally:
            if self._bar is not None:
                self._bar.update(1)
                self._postfix()

    def _target(self, i: int) -> str:
        """Request i's `/openrtb2/bid` URL: the handlers of `urls` in turn, else `url`."""
        urls = self.config.urls or (self.config.url,)
        return f"{urls[i % len(urls)].rstrip('/')}/openrtb2/bid"

    async def _post(self, url: str, body: dict[str, Any]) -> tuple[int, dict[str, str], bytes] | None:
        """The answer (status, headers, raw body) if it came within tmax and is a 200 or a 204."""
        assert self._session is not None
        stats, tmax_ms = self.stats, body.get("tmax") or DEFAULT_TMAX_MS
        stats.requests += 1
        sent = time.perf_counter()
        try:
            async with asyncio.timeout(tmax_ms / 1000):
                async with self._session.post(url, data=json.dumps(body).encode(), headers=HEADERS) as response:
                    raw = await response.read()
                    status, headers = response.status, dict(response.headers)
        except TimeoutError:
            stats.timeouts += 1
            return None
        except aiohttp.ClientError as e:
            stats.errors[type(e).__name__] += 1
            return None
        stats.answered += 1
        stats.latencies_ms.append((time.perf_counter() - sent) * 1000)
        if status not in (200, 204):
            stats.errors[f"HTTP {status}"] += 1
            return None
        if status == 200:
            stats.bid_answers += 1
        else:
            stats.no_bid_answers += 1
        return status, headers, raw

    def _auction(self, i: int, body: dict[str, Any], checked: Checked) -> None:
        """Auctions every impression of the request (competitors drawn from the seed and `i` alone, so
        the same run draws the same competitors whatever Helios answers)."""
        stats = self.stats
        stats.invalid_answers.update({v.check for v in checked.answer})
        helios: dict[Any, tuple[Mapping[str, Any], bool]] = {}
        for bid, found in checked.bids:
            reasons = {v.check for v in [*checked.answer, *found]}
            stats.bids += 1
            stats.valid_bids += not reasons
            stats.invalid_bids += bool(reasons)
            stats.invalid_by_reason.update(reasons)
            helios.setdefault(bid.get("impid"), (bid, not reasons))
        rng = random.Random(f"{self.config.seed}:{i}")
        for imp in body["imp"]:
            stats.impressions += 1
            floor = self._floor(imp)
            offers = [Offer(f"c{k}", p) for k, p in enumerate(competitor_prices(rng, floor, self.config.competitors))]
            mine = helios.get(imp["id"])
            if mine is not None:
                bid, valid = mine
                offers.append(Offer(HELIOS, Decimal(str(bid["price"])) if valid else None))
            result = run_auction(seeded_order(offers, rng), floor, self.config.auction)
            if mine is not None:
                self._settle(body, checked.document or {}, mine[0], result.outcomes[HELIOS])

    def _floor(self, imp: Mapping[str, Any]) -> Decimal:
        """The impression's floor in the bids' currency (USD)."""
        floor = Decimal(str(imp.get("bidfloor") or 0))
        return floor * self.config.rates.get(str(imp.get("bidfloorcur") or "USD").upper(), Decimal(1))

    def _settle(
        self, body: Mapping[str, Any], response: Mapping[str, Any], bid: Mapping[str, Any], outcome: Outcome
    ) -> None:
        stats = self.stats
        values = macro_values(body, response, bid, outcome)
        if outcome.won:
            assert outcome.price is not None
            stats.wins += 1
            stats.spend += outcome.price / 1000
            served = substitute(str(bid.get("adm") or ""), values)  # the markup as the page gets it
            stats.unsubstituted += "${AUCTION_" in served
            self._spawn(self._notice("win", bid.get("nurl"), values))
            self._spawn(self._bills(bid.get("burl"), values, outcome.price))
        else:
            stats.losses[int(outcome.loss)] += 1
            self._spawn(self._notice("loss", bid.get("lurl"), values))

    async def _bills(self, burl: Any, values: dict[str, Value], price: Decimal) -> None:
        c = self.config
        await asyncio.sleep(c.bill_delay_ms / 1000)
        delivered = False
        for n in range(c.bill_repeats):
            if n:
                await asyncio.sleep(c.bill_retry_ms / 1000)
            values = {**values, "AUCTION_IMP_TS": int(time.time() * 1000)}
            answer = await self._notice("bill", burl, values)
            if answer.startswith("2") and not delivered:  # billed from its first delivered bill on
                delivered = True
                self.stats.billed += 1
                self.stats.billed_spend += price / 1000

    async def _notice(self, kind: str, template: Any, values: dict[str, Value]) -> str:
        """Calls one notice URL (GET, as exchanges do), again while it is not delivered; counts every
        answer, whatever it is, and returns the last."""
        if not isinstance(template, str) or not template.startswith(("http://", "https://")):
            return "none"  # nothing to call (the validator counted the bid invalid for it)
        stats, url = self.stats, substitute(template, values)
        stats.notices_sent[kind] += 1
        stats.unsubstituted += "${AUCTION_" in url
        give_up = time.monotonic() + self.config.notice_retry_for_s
        while True:
            answer, retry = await self._call(url)
            stats.notice_answers[kind][answer] += 1
            if not retry:
                return answer
            if time.monotonic() + self.config.notice_retry_ms / 1000 > give_up:
                stats.notices_undelivered[kind] += 1
                return answer
            stats.notice_retries[kind] += 1
            await asyncio.sleep(self.config.notice_retry_ms / 1000)

    async def _call(self, url: str) -> tuple[str, bool]:
        """One GET of a notice URL: (its status or failure, whether an exchange tries it again)."""
        assert self._session is not None
        try:
            async with asyncio.timeout(self.config.notice_timeout_s):
                async with self._session.get(yarl.URL(url, encoded=True)) as response:
                    await response.read()
                    return str(response.status), response.status >= 500
        except TimeoutError:
            return "timeout", True
        except aiohttp.ClientError as e:
            return type(e).__name__, True
        except ValueError as e:  # not a URL that can be called: trying again changes nothing
            return type(e).__name__, False

    def _postfix(self, *, force: bool = False) -> None:
        bar, s = self._bar, self.stats
        if bar is not None and (force or s.requests % 25 == 0):
            bar.set_postfix(bids=s.bids, wins=s.wins, timeouts=s.timeouts, invalid=s.invalid_bids, refresh=False)


def macro_values(
    body: Mapping[str, Any], response: Mapping[str, Any], bid: Mapping[str, Any], outcome: Outcome
) -> dict[str, Value]:
    """What each §4.4 macro stands for in this bid's notices and markup."""
    seatbids = response.get("seatbid")
    seat = (
        seatbids[0].get("seat") if isinstance(seatbids, list) and seatbids and isinstance(seatbids[0], dict) else None
    )
    price = bid.get("price")
    mbr = None
    if outcome.won and outcome.price is not None and isinstance(price, int | float) and price > 0:
        mbr = market_bid_ratio(outcome.price, Decimal(str(price)))
    return {
        "AUCTION_ID": _str(body.get("id")),
        "AUCTION_BID_ID": _str(response.get("bidid")),
        "AUCTION_IMP_ID": _str(bid.get("impid")),
        "AUCTION_SEAT_ID": _str(seat),
        "AUCTION_AD_ID": _str(bid.get("adid")),
        "AUCTION_PRICE": outcome.price,
        "AUCTION_CURRENCY": _str(response.get("cur")) or "USD",
        "AUCTION_MBR": mbr,
        "AUCTION_LOSS": int(outcome.loss),  # 0: bid won
        "AUCTION_MIN_TO_WIN": outcome.min_to_win,
    }


def _str(value: Any) -> str | None:
    return value if isinstance(value, str) else None
