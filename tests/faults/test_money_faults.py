"""Issue 16's fault cases with money moving (SPEC §14, §15): two handler processes bid for a campaign
whose budget does not run out while the simulated exchange plays against them, every win billed
and each bill sent three times; meanwhile, in turn, `kill -9` of one handler (restarted on its
port), of the auction role, of the outcomes role, and of the ledger's Redis (a Redis of the test's
own, append-only file fsynced at every write as docs/production.md recommends, restarted on the same
directory and port, so it replays the file). The exchange tries again a notice it could not deliver.

Every bill the exchange got a 2xx for is counted exactly once: the ledger's spend = the billed
outcome rows' clearing prices = what the exchange charged for its delivered bills; no bid billed
twice; every reservation released after the notice window; no late bill (the window is longer than
any outage here); every role exits cleanly at the end (none died of Redis going away)."""

import asyncio
import json
import re
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
from django.conf import settings

from campaigns.ledger import CampaignLedger
from campaigns.tests.ledger_support import make_ledger, new_prefix
from exchange.simulator import Config, Exchange
from exchange.stats import render
from outcomes.models import AuctionOutcome
from pipeline.processes import free_port, http_get
from tests.e2e.harness import Platform, wait_for
from tests.faults.money_support import DAY_S, ENV, billed_rows, cost_of, create_campaign, start_handlers

pytestmark = [pytest.mark.slow, pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

WINDOW_S = 30  # the notice window: longer than any outage below, so no bill is late
RATE, DURATION_S = 50, 45  # requests a second, for this long (the notices then drain)
REDIS_DOWN_S = 3

Check = Callable[[dict[str, int]], bool]  # has the money caught up with what was billed by the mark?


class LedgerRedis:
    """A redis-server of the test's own on a free port, persisted as docs/production.md says."""

    def __init__(self, workdir: Path) -> None:
        self.dir, self.port = workdir, free_port()
        workdir.mkdir(parents=True, exist_ok=True)
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        args = ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--dir", str(self.dir),
                "--appendonly", "yes", "--appendfsync", "always", "--save", "", "--logfile", str(self.dir / "redis.log")]  # fmt: skip
        self.proc = subprocess.Popen(args)
        wait_for(self.ping, 30, "the ledger's Redis to load its data")

    def ping(self) -> bool:
        try:
            return bool(redis.Redis.from_url(self.url, socket_timeout=1).ping())
        except redis.RedisError:
            return False

    def kill(self) -> None:
        """kill -9: no chance to write anything more."""
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(10)
        self.proc = None


@pytest.fixture
def ledger_redis(tmp_path: Path) -> Iterator[LedgerRedis]:
    server = LedgerRedis(tmp_path / "ledger-redis")
    server.start()
    yield server
    if server.proc is not None:
        server.kill()


def ledger_state(url: str, prefix: str, campaign: int) -> CampaignLedger:
    async def state() -> CampaignLedger:
        ledger = make_ledger(prefix, url, day_s=DAY_S)
        try:
            return await ledger.state(campaign, now=time.time())
        finally:
            await ledger.close()

    return asyncio.run(state())


def counts(exchange: Exchange) -> dict[str, int]:
    """What the exchange has seen so far (read from another thread: a snapshot, not a transaction)."""
    s = exchange.stats
    return {"requests": s.requests, "bids": s.bid_answers, "no bid": s.no_bid_answers,
            "failed": sum(s.errors.values()), "timeouts": s.timeouts,
            "notice retries": sum(s.notice_retries.values())}  # fmt: skip


def delta(before: dict[str, int], after: dict[str, int]) -> str:
    return ", ".join(f"{key} {after[key] - before[key]}" for key in after if after[key] != before[key])


def metric(platform: Platform, name: str, labels: str) -> float:
    """The sum over the handlers of one sample of their /metrics."""
    total = 0.0
    for role in platform.ports:
        if role.startswith("handler"):
            text = http_get(platform.ports[role], "/metrics")[1]
            total += sum(float(value) for value in re.findall(rf"^{name}\{{{labels}\}} (\S+)$", text, re.M))
    return total


class Faults:
    """Injects the faults in turn while the exchange plays; records for each what the exchange saw,
    how long until the part was back, and until the money had caught up with the bills delivered."""

    def __init__(self, platform: Platform, ledger: LedgerRedis, exchange: Exchange) -> None:
        self.platform, self.ledger, self.exchange = platform, ledger, exchange
        self.rows: list[dict[str, Any]] = []
        self.started = time.monotonic()

    def at(self, second: float, case: str, fault: str, inject: Callable[[], None], caught_up: Check) -> None:
        time.sleep(max(0.0, self.started + second - time.monotonic()))
        before, t0 = counts(self.exchange), time.monotonic()
        inject()
        back_s = time.monotonic() - t0
        stats = self.exchange.stats
        mark = {"billed": stats.billed, "billed_micros": round(stats.billed_spend * 1_000_000)}
        wait_for(lambda: caught_up(mark), 120, f"{case}: the bills delivered before it applied", interval_s=0.2)
        caught_s = time.monotonic() - t0
        time.sleep(1)
        self.rows.append({"case": case, "fault": fault, "back_s": round(back_s, 1), "caught_up_s": round(caught_s, 1),
                          "during": delta(before, counts(self.exchange))})  # fmt: skip

    def restart(self, role: str) -> Callable[[], None]:
        def inject() -> None:
            self.platform.kill(role)
            self.platform.start(role)

        return inject

    def restart_redis(self) -> None:
        """Down for REDIS_DOWN_S: the auction role says it is not ready, then ready again."""
        down = time.monotonic()
        self.ledger.kill()
        wait_for(lambda: self.platform.ready("auction") == 503, 10, "the auction role unready without its ledger")
        time.sleep(max(0.0, down + REDIS_DOWN_S - time.monotonic()))
        self.ledger.start()
        wait_for(lambda: self.platform.ready("auction") == 200, 30, "the auction role ready again")


def billed_count(campaign: int) -> int:
    return AuctionOutcome.objects.filter(source="rtb", campaign_id=campaign, status="billed").count()


def test_kill_9_of_each_money_path_part_counts_every_bill_once(topic_prefix, tmp_path, ledger_redis):
    prefix = new_prefix()
    campaign = create_campaign(daily_budget="1000.00", fixed_cpm=1.0, pacing="asap")
    env = {**ENV, "HELIOS_LEDGER_NOTICE_WINDOW_S": str(WINDOW_S), "HELIOS_LEDGER_REDIS_URL": ledger_redis.url}
    with Platform(tmp_path, topic_prefix, settings.REDIS_URL, HELIOS_LEDGER_PREFIX=prefix, **env) as platform:
        platform.seed_profiles()
        for role in ("profiles", "outcomes", "auction"):
            platform.start(role)
        ports = start_handlers(platform, 2)
        urls = tuple(f"http://127.0.0.1:{port}" for port in ports)
        exchange = Exchange(Config(urls=urls, rate=RATE, duration_s=DURATION_S, auction="first", competitors=3,
                                   seed=16, tmax_ms=1000, bill_delay_ms=200, bill_repeats=3, bill_retry_ms=500,
                                   notice_retry_ms=500, progress=False))  # fmt: skip
        result: list[dict[str, Any]] = []
        player = threading.Thread(target=lambda: result.append(_run(exchange)), daemon=True)
        started = time.monotonic()
        player.start()
        faults = Faults(platform, ledger_redis, exchange)

        def spent(mark: dict[str, int]) -> bool:  # the ledger spent at least what was billed by then
            return ledger_state(ledger_redis.url, prefix, campaign).spent_micros >= mark["billed_micros"]

        def stored(mark: dict[str, int]) -> bool:  # the outcomes billed at least as many rows
            return billed_count(campaign) >= mark["billed"]

        faults.at(4, "kill-handler", "kill -9 one of 2 handlers, restart on its port", faults.restart("handler"), spent)
        faults.at(14, "kill-auction", "kill -9 auction, restart", faults.restart("auction"), spent)
        faults.at(24, "kill-outcomes", "kill -9 outcomes, restart", faults.restart("outcomes"), stored)
        unreachable = metric(platform, "helios_ledger_reserves_total", 'result="(?:unavailable|timeout)"')
        faults.at(32, "restart-ledger-redis", f"kill -9 the ledger's Redis, start it {REDIS_DOWN_S} s later "
                  "(AOF, fsync always)", faults.restart_redis, spent)  # fmt: skip
        unreachable = metric(platform, "helios_ledger_reserves_total", 'result="(?:unavailable|timeout)"') - unreachable
        player.join(300)
        assert result, "the exchange did not finish"
        summary = result[0]
        played_s = time.monotonic() - started

        def drained() -> bool:  # every bill applied; the reservations of dropped answers released
            money = ledger_state(ledger_redis.url, prefix, campaign)
            return (
                money.reserved_micros == 0
                and money.open_reservations == 0
                and (len(billed_rows(campaign)) == summary["billed"])
            )

        time.sleep(WINDOW_S)
        wait_for(drained, 120, "the bills to be applied and the reservations released", interval_s=1)
        drained_s = time.monotonic() - started
        retried = platform.log("auction").count("error writing a batch")
    money, rows = ledger_state(ledger_redis.url, prefix, campaign), billed_rows(campaign)
    report = {
        "faults": faults.rows, "reservations refused while Redis was down": unreachable,
        "auction batches retried": retried, "played s": round(played_s, 1), "drained s": round(drained_s, 1),
        "wins": summary["wins"], "billed": summary["billed"], "bills sent": summary["notices_sent"]["bill"],
        "bill answers": summary["notice_answers"]["bill"], "retries": summary["notice_retries"],
        "billed rows": len(rows), "outcomes spend micros": sum(cost_of(row) for row in rows),
        "ledger spent micros": money.spent_micros, "exchange spend micros": round(summary["billed_spend"] * 1e6),
        "late bills": money.late_bills, "reserved after": money.reserved_micros,
    }  # fmt: skip
    print(json.dumps(report, indent=1))
    assert summary["invalid_bids"] == 0 and summary["unsubstituted_macros"] == 0
    assert summary["notices_undelivered"] == {"win": 0, "bill": 0, "loss": 0}  # nothing given up
    assert summary["billed"] == summary["wins"] > 0  # every win's bill delivered in the end
    assert sum(summary["notice_retries"].values()) > 0  # the dead handler's notices were tried again
    assert len({row.rtb_bid_id for row in rows}) == len(rows) == summary["billed"]  # each bill once
    assert sum(cost_of(row) for row in rows) == money.spent_micros  # outcomes == ledger
    assert money.spent_micros == round(summary["billed_spend"] * 1_000_000)  # == what the exchange charged
    assert money.spent_today_micros == money.spent_micros
    assert money.reserved_micros == 0 and money.open_reservations == 0 and money.late_bills == 0
    assert unreachable > 0  # Redis down: no room, no bid (and no role died: the platform exits cleanly)


def _run(exchange: Exchange) -> dict[str, Any]:
    summary = asyncio.run(exchange.run())
    print(render(summary))
    return summary
