"""The post-auction loop end to end on the real Kafka and PostgreSQL (SPEC §14): auction and outcomes
as real processes; RTB bids and the exchange's notices in any order; each notice applied once to
the ledger (a recording fake) and to the stored outcome, read back through the REST API."""

from typing import Any

import pytest
from rest_framework.test import APIClient

from outcomes.models import AuctionNotice as NoticeRow
from tests.e2e.harness import Platform, wait_for
from tests.e2e.notice_support import Feed, ledger_calls, notice, rtb_bid

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def api(settings: Any) -> APIClient:
    settings.HELIOS_PUBLIC_API = True
    return APIClient()


def statuses(api: APIClient) -> dict[str, tuple[str, Any, Any]]:
    items = api.get("/api/outcomes/", {"source": "rtb", "page_size": "100"}).json()["results"]
    return {i["rtb_bid_id"]: (i["status"], i["clearing_cpm"], i["loss_code"]) for i in items}


def test_notices_in_any_order_are_applied_once_to_the_ledger_and_the_outcome(topic_prefix, tmp_path, api):
    log = tmp_path / "ledger.jsonl"
    env = {"HELIOS_NOTICE_LEDGER": "auction.tests.fakes.shared_ledger", "HELIOS_TEST_LEDGER_LOG": str(log),
           "HELIOS_LEDGER_NOTICE_WINDOW_S": "900"}  # fmt: skip
    with Platform(tmp_path, topic_prefix, "redis://127.0.0.1:6379/9", **env) as platform:
        platform.start("auction")
        platform.start("outcomes")
        feed = Feed()
        feed.notices(notice("bill", "early", clearing=1_900_000))  # before its bid is even made known
        wait_for(lambda: NoticeRow.objects.filter(rtb_bid_id="early").exists(), 60, "the early bill to be kept")
        feed.bids(
            rtb_bid("won-billed"), rtb_bid("early"), rtb_bid("thrice"), rtb_bid("lost"), rtb_bid("old", age_s=901)
        )
        feed.notices(notice("win", "won-billed", clearing=1_200_000), notice("bill", "won-billed", clearing=1_200_000))
        feed.notices(
            *[notice("bill", "thrice", clearing=2_000_000)] * 3, notice("loss", "lost", clearing=None, loss=102)
        )
        want = {
            "won-billed": ("billed", 1.2, None),
            "early": ("billed", 1.9, None),
            "thrice": ("billed", 2.0, None),
            "lost": ("lost", None, 102),
            "old": ("expired", None, None),
        }
        wait_for(lambda: statuses(api) == want, 60, "every notice applied", interval_s=0.3)
        stats = api.get("/api/outcomes/notice-stats/").json()
        assert stats["billed"] == 3 and stats["by_status"] == {"billed": 3, "expired": 1, "lost": 1}
        assert stats["spend"] == pytest.approx((1.2 + 1.9 + 2.0) / 1000)
        wait_for(lambda: sum(ledger_calls(log).values()) >= 6, 30, "the ledger to see every bill and loss")
        calls = ledger_calls(log)
        settled = {(bid, clearing) for op, bid, clearing in calls if op == "settle"}
        assert settled == {("won-billed", 1_200_000), ("early", 1_900_000), ("thrice", 2_000_000)}
        assert {bid for op, bid, _ in calls if op == "release"} == {"lost"}
        # The fake applies each bid once, as the real ledger does; the replays reached it as duplicates.
        assert calls[("settle", "thrice", 2_000_000)] == 3
