"""The live dashboard in a real headless Chromium (ARCHITECTURE §6, layer 5).

The real pipeline (every role its own OS process on Kafka, Redis and PostgreSQL, the Redis channel
layer on Redis DB 13) plus the web role (daphne), and Debian's Chromium driven by Playwright's
Python package. The test looks at what a user sees: figures that change by themselves as bids
are stored, a table that follows them and narrows with its filters, no console errors, and a page
that comes back by itself after the web server restarts. Screenshot: test-artifacts/dashboard.png.

Needs `scripts/browser-deps.sh` (Debian's chromium) and the `playwright` package: without them
the test fails, it never skips.
"""

import collections
import signal
import subprocess
import sys
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TypeVar

import pytest
from django.conf import settings
from django.db import connection

from campaigns.models import Advertiser, Campaign
from conftest import REPO, free_port
from outcomes.models import AuctionOutcome
from tests.e2e.harness import Platform, expected_outcomes, http_get, make_bids, post_all, wait_for

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

DASHBOARD_REDIS_DB = 13
# Snapshots go out every 0.5 s: what was stored shows within this (SPEC §8: live, no reload).
UPDATE_TIMEOUT_MS = 2_000
CONNECT_TIMEOUT_MS = 15_000
PAGE_SIZE = 25
T = TypeVar("T")


def redis_url() -> str:
    return f"{settings.REDIS_URL.rsplit('/', 1)[0]}/{DASHBOARD_REDIS_DB}"


class Web:
    """The web role as a user starts it: daphne serving helios_site.asgi:application."""

    def __init__(self, workdir: Path, env: dict[str, str]) -> None:
        self.port = free_port()
        self.env = env
        self.log = workdir / "web.log"
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        with open(self.log, "ab") as out:
            self.proc = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "daphne",
                    "-b",
                    "127.0.0.1",
                    "-p",
                    str(self.port),
                    "helios_site.asgi:application",
                ],
                cwd=REPO,
                env=self.env,
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        wait_for(lambda: http_get(self.port, "/healthz")[0] == 200, 60, "daphne to serve /healthz")

    def stop(self) -> int | None:
        proc, self.proc = self.proc, None
        if proc is None:
            return None
        proc.send_signal(signal.SIGTERM)
        try:
            return proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
            return None


@pytest.fixture
def platform(topic_prefix, tmp_path) -> Iterator[Platform]:
    with Platform(
        tmp_path,
        topic_prefix,
        redis_url(),
        HELIOS_CHANNEL_LAYER="redis",
        HELIOS_CHANNEL_PREFIX=f"browser-{uuid.uuid4().hex[:8]}",
        HELIOS_PUBLIC_API="true",
    ) as pf:
        pf.seed_profiles()
        yield pf


@pytest.fixture
def web(platform, tmp_path) -> Iterator[Web]:
    server = Web(tmp_path, platform.env)
    yield server
    server.stop()


def wait_stored(count: int) -> None:
    """Waits until `count` outcomes are stored. The ORM runs in a thread of its own: Playwright's
    sync API keeps an event loop in the test's thread, where Django refuses blocking queries."""

    def wait() -> None:
        try:
            wait_for(lambda: AuctionOutcome.objects.count() >= count, 120, f"{count} stored outcomes", interval_s=0.05)
        finally:
            connection.close()

    with ThreadPoolExecutor(1) as pool:
        pool.submit(wait).result()


def in_thread(work: Callable[[], T]) -> T:
    """Runs ORM work in a thread of its own (see `wait_stored`)."""

    def run() -> T:
        try:
            return work()
        finally:
            connection.close()

    with ThreadPoolExecutor(1) as pool:
        return pool.submit(run).result()


def rtb_campaign() -> int:
    advertiser = Advertiser.objects.create(name="Acme", adomain="acme.example")
    return Campaign.objects.create(advertiser=advertiser, name="Acme spring sale").pk


def produce_rtb(campaign_id: int) -> int:
    """What `POST /openrtb2/bid` produces (SPEC §12), for 5 requests of one impression each: the
    request (`source` rtb, which the bidder passes by) and its decision: 3 bids for the campaign
    (one decided after its deadline), 1 for the built-in house, 2 no-bids. Returns the number of
    decisions (= outcomes to be stored)."""
    from confluent_kafka import Producer

    from pipeline import topics
    from pipeline.messages import BidRequest, BidResponse, Imp, encode, utc_now
    from pipeline.transports import bootstrap_servers

    decisions: list[tuple[int | None, int | None, float]] = [
        (campaign_id, None, 4.0),
        (campaign_id, None, 6.0),
        (campaign_id, None, 150.0),
        (0, None, 9.0),
    ]
    decisions += [(None, 504, 3.0), (None, 500, 2.0)]
    producer = Producer({"bootstrap.servers": ",".join(bootstrap_servers())})
    for n, (campaign, nbr, latency_ms) in enumerate(decisions):
        request_id, now = f"rtb-{n}", utc_now()
        request = BidRequest(
            request_id=request_id, received_at=now, source="rtb", imps=[Imp(imp_id="1")], privacy="open"
        )
        response = BidResponse(
            bid_request_id=request_id,
            imp_id="1",
            received_at=now,
            bid_price=2.5 if nbr is None else 0.0,
            bid_floor=0.0,
            timestamp=now,
            enriched=False,
            source="rtb",
            campaign_id=campaign,
            creative_id="crid-acme" if nbr is None else None,
            bid_id=f"{request_id}-bid" if nbr is None else None,
            price_cpm=2.5 if nbr is None else 0.0,
            nbr=nbr,
            privacy="open",
            latency_ms=latency_ms,
            deadline_ms=100.0,
        )
        producer.produce(topics.resolved(topics.BID_REQUESTS), encode(request), key=request_id)
        producer.produce(topics.resolved(topics.BID_RESPONSES), encode(response), key=request_id)
    assert producer.flush(10) == 0
    return len(decisions)


def test_dashboard_follows_the_live_pipeline_in_a_real_browser(platform, web, page, artifacts_dir):
    from playwright.sync_api import expect

    platform.start_all()
    web.start()
    errors: list[str] = []
    page.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)
    page.on("pageerror", lambda error: errors.append(str(error)))

    page.goto(web.url + "/")
    status = page.locator("#status")
    total = page.locator("#card-total [data-value]")
    wins = page.locator("#card-wins [data-value]")
    summary = page.locator("#table-summary")
    rows = page.locator("#outcomes tbody tr")
    expect(status).to_have_attribute("data-state", "live", timeout=CONNECT_TIMEOUT_MS)
    expect(total).to_have_text("0", timeout=UPDATE_TIMEOUT_MS)

    # Bids posted to the running handler show up without a reload: cards, table.
    sent = post_all(platform.handler_port, make_bids(80, seed=31))
    assert {s.status for s in sent} == {202}
    expected = expected_outcomes(sent)
    wait_stored(len(expected))
    won = sum(1 for outcome in expected.values() if outcome["win_status"])
    expect(total).to_have_text(f"{len(expected):,}", timeout=UPDATE_TIMEOUT_MS)
    expect(wins).to_have_text(f"{won:,}", timeout=UPDATE_TIMEOUT_MS)
    expect(summary).to_have_text(f"{len(expected):,} matching", timeout=UPDATE_TIMEOUT_MS)
    expect(rows).to_have_count(min(PAGE_SIZE, len(expected)))
    expect(page.locator("#card-rate [data-value]")).not_to_have_text("0", timeout=UPDATE_TIMEOUT_MS)
    expect(page.locator("#card-p50 [data-value]")).to_contain_text("s", timeout=UPDATE_TIMEOUT_MS)

    # A filter narrows the table: won only...
    page.select_option("#filters select[name=win_status]", "true")
    expect(summary).to_have_text(f"{won:,} matching", timeout=UPDATE_TIMEOUT_MS)
    expect(page.locator("#outcomes tbody .badge.lost")).to_have_count(0)
    expect(page.locator("#outcomes tbody .badge.won")).to_have_count(min(PAGE_SIZE, won))
    page.select_option("#filters select[name=win_status]", "")

    # ...one user, and the filter stays put while new outcomes stream in.
    per_user = collections.Counter(outcome["user_id"] for outcome in expected.values() if outcome["user_id"])
    user, count = per_user.most_common(1)[0]
    user_input = page.locator("#filters input[name=user_id]")
    user_input.fill(user)
    expect(summary).to_have_text(f"{count:,} matching", timeout=UPDATE_TIMEOUT_MS)
    users_shown = page.locator("#outcomes tbody td:nth-child(4)")
    expect(users_shown).to_have_count(min(PAGE_SIZE, count))
    assert set(users_shown.all_inner_texts()) == {user}

    more = post_all(
        platform.handler_port, [{**bid, "user_id": user} for bid in make_bids(30, seed=32) if "imp" not in bid]
    )
    expected.update(expected_outcomes(more))
    wait_stored(len(expected))
    count = sum(1 for outcome in expected.values() if outcome["user_id"] == user)
    expect(summary).to_have_text(f"{count:,} matching", timeout=UPDATE_TIMEOUT_MS)
    expect(total).to_have_text(f"{len(expected):,}", timeout=UPDATE_TIMEOUT_MS)
    expect(user_input).to_have_value(user)
    assert set(users_shown.all_inner_texts()) == {user}

    page.click("#filters button[type=reset]")
    expect(summary).to_have_text(f"{len(expected):,} matching", timeout=UPDATE_TIMEOUT_MS)

    # RTB decisions made by the handler are stored (each once: the bidder passes their requests
    # by) and fill the RTB panel: latency, the answer past its deadline, no-bid reasons, campaigns.
    expect(page.locator("#rtb-bids [data-value]")).to_have_text("0")
    rtb_count = produce_rtb(in_thread(rtb_campaign))
    rtb_stored = len(expected) + rtb_count
    wait_stored(rtb_stored)
    expect(total).to_have_text(f"{rtb_stored:,}", timeout=UPDATE_TIMEOUT_MS)
    expect(page.locator("#rtb-bids [data-value]")).to_have_text("4", timeout=UPDATE_TIMEOUT_MS)
    expect(page.locator("#rtb-late [data-value]")).to_have_text("1")
    expect(page.locator("#rtb-late [data-sub]")).to_have_text("of 6 answers")
    expect(page.locator("#rtb-p50 [data-value]")).to_have_text("4.0 ms")
    expect(page.locator("#rtb-p99 [data-value]")).to_have_text("150 ms")
    no_bids = page.locator("#rtb-no-bids tbody tr")
    expect(no_bids).to_have_count(2)
    expect(no_bids.nth(0)).to_contain_text("no campaign")
    expect(no_bids.nth(1)).to_contain_text("below floor")
    campaigns = page.locator("#rtb-campaigns tbody tr")
    expect(campaigns).to_have_count(2)
    expect(campaigns.nth(0)).to_contain_text("Acme spring sale")
    expect(campaigns.nth(0)).to_contain_text("3")
    expect(campaigns.nth(1)).to_contain_text("house (built-in)")
    # The newest rows are those decisions: the bids wait for the exchange's notices, not "Lost".
    expect(page.locator("#outcomes tbody .badge.pending")).to_have_count(4, timeout=UPDATE_TIMEOUT_MS)
    expect(page.locator("#outcomes tbody .badge.no_bid")).to_have_count(2)
    expect(page.locator("#outcomes tbody .badge.pending").first).to_have_text("Pending")
    page.screenshot(path=str(artifacts_dir / "dashboard.png"), full_page=True)
    assert errors == [], f"console errors: {errors}"

    # The web server restarts: the page reconnects by itself and goes on updating.
    assert web.stop() == 0
    expect(status).to_have_attribute("data-state", "reconnecting", timeout=CONNECT_TIMEOUT_MS)
    web.start()
    expect(status).to_have_attribute("data-state", "live", timeout=CONNECT_TIMEOUT_MS)
    again = post_all(platform.handler_port, make_bids(20, seed=33))
    expected.update(expected_outcomes(again))
    wait_stored(len(expected) + rtb_count)
    expect(total).to_have_text(f"{len(expected) + rtb_count:,}", timeout=UPDATE_TIMEOUT_MS)
    # Nothing more: the bidder priced none of the RTB requests (each would be one more outcome).
    assert in_thread(AuctionOutcome.objects.count) == len(expected) + rtb_count
