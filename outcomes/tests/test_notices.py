"""The stored outcome's side of the post-auction loop (SPEC §14): notices kept once, applied to
their bid's row whatever the order of arrival, statuses and stats through the API."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from rest_framework.test import APIClient

from outcomes.models import AuctionNotice as NoticeRow
from outcomes.models import AuctionOutcome
from outcomes.notices import notice_record_batch
from outcomes.services import outcome_record_batch
from outcomes.status import resolve
from outcomes.tests.factories import outcome_message, outcome_rows
from pipeline.messages import AuctionNotice, format_time

pytestmark = pytest.mark.django_db


@pytest.fixture
def api(settings: Any) -> APIClient:
    settings.HELIOS_PUBLIC_API = True
    return APIClient()


def bid(request_id: str, bid_id: str, *, price: float = 2.5, received: datetime | None = None) -> None:
    message = outcome_message(
        bid_request_id=request_id, imp_id="1", source="rtb", campaign_id=7, creative_id="cr-7", bid_id=bid_id,
        bid_price=price, price_cpm=price, win_status=False, win_price=0.0, loss_reason=None,
        received_at=format_time(received or datetime.now(UTC)),
    )  # fmt: skip
    assert outcome_record_batch(rows=outcome_rows([message])) == 1


def notice(kind: str, bid_id: str, *, clearing: int | None = 2_000_000, loss: int | None = None) -> AuctionNotice:
    return AuctionNotice(
        kind=kind, request_id=f"r-{bid_id}", imp_id="1", bid_id=bid_id, campaign_id=7, crid="cr-7",  # type: ignore[arg-type]
        price_micros=2_500_000, user_id="fan", issued_at=1, clearing_micros=clearing, loss_code=loss,
        received_at=format_time(datetime.now(UTC)),
    )  # fmt: skip


def row(bid_id: str) -> AuctionOutcome:
    return AuctionOutcome.objects.get(rtb_bid_id=bid_id)


def test_resolve_does_not_depend_on_the_order_of_the_notices() -> None:
    win, bill, loss = ("win", Decimal("2"), None), ("bill", Decimal("1.9"), None), ("loss", None, 102)
    assert resolve([]) == ("pending", None, None)
    assert resolve([win]) == ("won", Decimal("2"), None)
    assert resolve([win, bill]) == resolve([bill, win]) == ("billed", Decimal("1.9"), None)
    assert resolve([loss]) == ("lost", None, 102)
    assert resolve([loss, bill]) == resolve([bill, loss]) == ("billed", Decimal("1.9"), None)  # money was spent


def test_a_bid_is_pending_then_won_then_billed_at_the_clearing_price() -> None:
    bid("r1", "b1")
    assert row("b1").status == "pending"
    notice_record_batch(notices=[notice("win", "b1", clearing=2_100_000)])
    assert (row("b1").status, row("b1").clearing_cpm) == ("won", Decimal("2.1"))
    notice_record_batch(notices=[notice("bill", "b1", clearing=2_100_000)])
    assert (row("b1").status, row("b1").clearing_cpm, row("b1").loss_code) == ("billed", Decimal("2.1"), None)


def test_a_bill_that_comes_before_the_bids_row_is_applied_when_the_row_is_stored() -> None:
    assert notice_record_batch(notices=[notice("bill", "early")]) == 0  # no row yet
    bid("r-early", "early")
    assert (row("early").status, row("early").clearing_cpm) == ("billed", Decimal("2"))


def test_a_bill_replayed_three_times_is_one_billed_impression(api: APIClient) -> None:
    bid("r2", "b2")
    for _ in range(3):
        notice_record_batch(notices=[notice("bill", "b2")])
    notice_record_batch(notices=[notice("bill", "b2"), notice("bill", "b2")])  # twice in one batch too
    assert NoticeRow.objects.filter(rtb_bid_id="b2").count() == 1
    stats = api.get("/api/outcomes/notice-stats/").json()
    assert (stats["billed"], stats["spend"], stats["average_clearing_cpm"]) == (1, 0.002, 2.0)


def test_a_loss_keeps_its_openrtb_code_and_is_filterable(api: APIClient) -> None:
    bid("r3", "b3")
    bid("r4", "b4")
    notice_record_batch(notices=[notice("loss", "b3", clearing=None, loss=102)])
    assert (row("b3").status, row("b3").loss_code, row("b3").clearing_cpm) == ("lost", 102, None)
    lost = api.get("/api/outcomes/", {"status": "lost"}).json()["results"]
    assert [(item["rtb_bid_id"], item["status"], item["loss_code"]) for item in lost] == [("b3", "lost", 102)]
    assert api.get("/api/outcomes/", {"loss_code": "102"}).json()["count"] == 1
    stats = api.get("/api/outcomes/notice-stats/").json()
    assert stats["by_status"] == {"lost": 1, "pending": 1} and stats["by_loss_code"] == {"102": 1}


def test_a_bid_without_a_notice_within_the_window_is_expired_until_a_late_bill(api: APIClient, settings: Any) -> None:
    settings.HELIOS_LEDGER_NOTICE_WINDOW_S = 900
    bid("r5", "old", received=datetime.now(UTC) - timedelta(seconds=901))
    bid("r6", "new")
    by_status = {i["rtb_bid_id"]: i["status"] for i in api.get("/api/outcomes/").json()["results"]}
    assert by_status == {"old": "expired", "new": "pending"}
    assert [i["rtb_bid_id"] for i in api.get("/api/outcomes/", {"status": "expired"}).json()["results"]] == ["old"]
    assert api.get(f"/api/outcomes/{row('old').pk}/").json()["status"] == "expired"
    assert api.get("/api/outcomes/notice-stats/").json()["by_status"] == {"expired": 1, "pending": 1}
    notice_record_batch(notices=[notice("bill", "old")])  # a late bill is still a bill (counted late by the ledger)
    assert api.get("/api/outcomes/notice-stats/").json()["by_status"] == {"billed": 1, "pending": 1}


def test_a_no_bid_is_no_bid_and_post_bid_rows_have_no_status(api: APIClient) -> None:
    message = outcome_message(source="rtb", bid_price=0.0, price_cpm=0.0, nbr=503, bid_id=None, win_status=False,
                              win_price=0.0)  # fmt: skip
    outcome_record_batch(rows=outcome_rows([message, outcome_message()]))
    assert set(AuctionOutcome.objects.values_list("status", flat=True)) == {"no_bid", None}
    assert api.get("/api/outcomes/", {"status": "no_bid"}).json()["count"] == 1
    assert api.get("/api/outcomes/", {"status": "sold"}).status_code == 400
