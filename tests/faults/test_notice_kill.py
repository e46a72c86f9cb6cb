"""`kill -9` of the auction role and of the outcomes role while RTB bids and their notices stream
(SPEC §14): every billed notice is counted once in the outcomes (billed rows, spend) and reaches the
ledger, each replayed bill changing nothing more. The ledger is the recording fake of
auction/tests/fakes.py (its calls in a file): the real one dedupes per bid id itself."""

import threading
import time
from decimal import Decimal
from functools import partial
from typing import Any

import pytest
from rest_framework.test import APIClient

from outcomes.models import AuctionOutcome
from tests.e2e.harness import Platform, wait_for
from tests.e2e.notice_support import Feed, ledger_calls, notice, rtb_bid

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


def test_kill_9_of_the_auction_and_outcomes_roles_counts_every_bill_once(topic_prefix, tmp_path, settings):
    settings.HELIOS_PUBLIC_API = True
    api = APIClient()
    log = tmp_path / "ledger.jsonl"
    env = {"HELIOS_NOTICE_LEDGER": "auction.tests.fakes.shared_ledger", "HELIOS_TEST_LEDGER_LOG": str(log)}
    with Platform(tmp_path, topic_prefix, "redis://127.0.0.1:6379/9", **env) as platform:
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
    calls = ledger_calls(log)
    settled = {(bid, clearing) for op, bid, clearing in calls if op == "settle"}
    assert settled == set(billed.items())  # every bill reached the ledger, at its clearing price
    replayed = sum(n for (op, _, _), n in calls.items() if op == "settle")
    print(f"bills {len(billed)}, settle calls {replayed} (replays and re-deliveries; the ledger applies each once)")
