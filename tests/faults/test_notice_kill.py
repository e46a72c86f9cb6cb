"""`kill -9` of the auction role and of the outcomes role while RTB bids and their notices stream
(SPEC §14): every billed notice is counted once in the outcomes (billed rows, spend) and in the
Redis ledger (campaigns/ledger/, under a key prefix of its own), each replayed or re-delivered bill
changing nothing more."""

import threading
import time
from collections.abc import Iterator
from decimal import Decimal
from functools import partial
from typing import Any

import pytest
from rest_framework.test import APIClient

from campaigns.ledger.rules import impression_cost
from campaigns.tests.ledger_support import prefixed, run
from outcomes.models import AuctionOutcome
from tests.e2e.harness import Platform, wait_for
from tests.e2e.notice_support import CAMPAIGN, Feed, notice, rtb_bid

pytestmark = [pytest.mark.slow, pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

BIDS = 3000
CHUNK = 50  # bids (then their notices) produced at a time
REPLAYS = 3  # each bill sent this many times, as exchanges retry


def clearing_of(i: int) -> int:
    return 1_000_000 + (i % 7) * 100_000


def kind_of(i: int) -> str:
    return ("billed", "billed", "lost", "won", "pending")[i % 5]


def sent_past(sent: list[int], at: int) -> bool:
    return bool(sent) and sent[-1] >= at


def feed_all(feed: Feed, done: threading.Event, sent: list[int]) -> None:
    for start in range(0, BIDS, CHUNK):
        chunk = range(start, start + CHUNK)
        # Half the chunks' notices go first: notices before their bids' rows.
        notices = []
        for i in chunk:
            bid_id = f"k{i}"
            if kind_of(i) == "billed":
                notices += [notice("win", bid_id, clearing=clearing_of(i))]
                notices += [notice("bill", bid_id, clearing=clearing_of(i))] * REPLAYS
            elif kind_of(i) == "lost":
                notices.append(notice("loss", bid_id, clearing=None, loss=102))
            elif kind_of(i) == "won":
                notices.append(notice("win", bid_id, clearing=clearing_of(i)))
        bids = [rtb_bid(f"k{i}") for i in chunk]
        if start // CHUNK % 2:
            feed.notices(*notices)
            feed.bids(*bids)
        else:
            feed.bids(*bids)
            feed.notices(*notices)
        sent.append(start + CHUNK)
        time.sleep(0.05)
    done.set()


@pytest.fixture
def ledger_prefix() -> Iterator[str]:
    yield from prefixed()


def test_kill_9_of_the_auction_and_outcomes_roles_counts_every_bill_once(
    topic_prefix, tmp_path, settings, ledger_prefix
):
    settings.HELIOS_PUBLIC_API = True
    api = APIClient()
    env = {"HELIOS_LEDGER_PREFIX": ledger_prefix, "HELIOS_LEDGER_STORE": "redis"}
    with Platform(tmp_path, topic_prefix, settings.REDIS_URL, **env) as platform:
        platform.start("auction")
        platform.start("outcomes")
        done, sent = threading.Event(), list[int]()
        feeder = threading.Thread(target=feed_all, args=(Feed(), done, sent))
        feeder.start()
        for role, at in (("auction", BIDS // 4), ("outcomes", BIDS // 2), ("auction", 3 * BIDS // 4)):
            wait_for(partial(sent_past, sent, at), 300, f"{at} bids sent")
            platform.kill(role)  # mid-stream: batches in flight, offsets not committed
            platform.start(role)
        feeder.join(300)
        assert done.is_set()
        billed = {f"k{i}": clearing_of(i) for i in range(BIDS) if kind_of(i) == "billed"}
        want = {"billed": len(billed), "lost": BIDS // 5, "won": BIDS // 5, "pending": BIDS // 5}

        def applied() -> bool:
            return api.get("/api/outcomes/notice-stats/").json()["by_status"] == want

        wait_for(applied, 300, "every notice applied", interval_s=1)
    stats: Any = api.get("/api/outcomes/notice-stats/").json()
    spend = sum(Decimal(c) / 1_000_000_000 for c in billed.values())
    assert stats["billed"] == len(billed) and Decimal(str(stats["spend"])) == spend
    assert AuctionOutcome.objects.filter(source="rtb").count() == BIDS  # one row per bid, none doubled
    assert api.get("/api/outcomes/", {"status": "lost", "loss_code": "102"}).json()["count"] == BIDS // 5

    async def state(ledger: Any) -> Any:
        return await ledger.state(CAMPAIGN, now=time.time())

    money = run(ledger_prefix, state)
    assert money.spent_micros == sum(impression_cost(c) for c in billed.values())  # each bill spent once
    assert money.reserved_micros == 0 and money.late_bills == 0
    print(f"bills {len(billed)} sent {REPLAYS}x; ledger spent {money.spent_micros} micros; outcomes spend {spend}")
