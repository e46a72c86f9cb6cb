"""RTB outcomes (SPEC §12, §16) stored, filtered and counted: the decision's fields on each row,
`campaign`/`source`/`nbr` filters on the list, /rtb-stats/ by privacy state and no-bid code, and
the admin's source and campaign filters. Stored through the sink's own path (COPY on PostgreSQL)."""

from typing import Any

import pytest
from django.test import Client
from rest_framework.test import APIClient

from campaigns.models import Advertiser, Campaign
from outcomes.models import AuctionOutcome
from outcomes.rows import InvalidOutcome, outcome_row
from outcomes.services import outcome_record_batch
from outcomes.tests.factories import outcome_message, outcome_rows
from pipeline.messages import AuctionOutcomeMessage

pytestmark = pytest.mark.django_db


def rtb(
    request_id: str, *, campaign: int | None = 7, nbr: int | None = None, **overrides: Any
) -> AuctionOutcomeMessage:
    """An RTB outcome as the auction role passes it on: a bid pending the exchange, or a no-bid."""
    bid = nbr is None
    fields: dict[str, Any] = {
        "bid_request_id": request_id,
        "source": "rtb",
        "campaign_id": campaign if bid else None,
        "creative_id": "crid-7" if bid else None,
        "bid_id": f"{request_id}-1" if bid else None,
        "bid_price": 2.5 if bid else 0.0,
        "price_cpm": 2.5 if bid else 0.0,
        "ad_creative": None,
        "nbr": nbr,
        "privacy": "open",
        "latency_ms": 3.25,
        "deadline_ms": 80.0,
        "win_status": False,
        "win_price": 0.0,
        "loss_reason": None if bid else "no_bid",
    }
    return outcome_message(**{**fields, **overrides})


def store(*messages: AuctionOutcomeMessage) -> None:
    outcome_record_batch(rows=outcome_rows(messages))


@pytest.fixture
def api(settings: Any) -> APIClient:
    settings.HELIOS_PUBLIC_API = True
    return APIClient()


@pytest.fixture
def mixed() -> None:
    store(
        rtb("rtb-bid-1"),
        rtb("rtb-bid-2", campaign=8, privacy="gdpr_consent"),
        rtb("rtb-coppa", nbr=500, privacy="coppa", user_id=None),
        rtb("rtb-floor", nbr=504),
        rtb("rtb-floor-2", nbr=504, privacy="lmt"),
        outcome_message(bid_request_id="helios-1"),  # POST /bid, priced by the bidder
        outcome_message(bid_request_id="openrtb-1", source="openrtb", campaign_id=0, creative_id="cr-sports"),
    )


def test_an_rtb_outcome_is_stored_with_the_decisions_fields(mixed: None) -> None:
    row = AuctionOutcome.objects.get(bid_id="rtb-bid-1")
    assert (row.source, row.campaign_id, row.creative_id, row.rtb_bid_id) == ("rtb", 7, "crid-7", "rtb-bid-1-1")
    assert (row.nbr, row.privacy, row.latency_ms, row.deadline_ms) == (None, "open", 3.25, 80.0)
    assert (row.win_status, row.loss_reason) == (False, None)
    no_bid = AuctionOutcome.objects.get(bid_id="rtb-coppa")
    assert (no_bid.nbr, no_bid.privacy, no_bid.user_id, no_bid.loss_reason) == (500, "coppa", None, "no_bid")
    helios = AuctionOutcome.objects.get(bid_id="helios-1")
    assert (helios.source, helios.campaign_id, helios.privacy, helios.latency_ms) == ("helios", None, None, None)
    assert helios.creative_id == "cr-" + (helios.winning_interest or "default")  # from ad_creative, as before


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"nbr": 2**31}, "nbr"),
        ({"nbr": -1}, "nbr"),
        ({"campaign_id": 2**63}, "campaign_id"),
        ({"latency_ms": float("inf")}, "latency_ms"),
        ({"privacy": "x" * 33}, "privacy"),
        ({"bid_id": "b" * 129}, "rtb_bid_id"),
    ],
)
def test_what_the_columns_cannot_hold_is_refused(overrides: dict[str, Any], message: str) -> None:
    with pytest.raises(InvalidOutcome, match=message):
        outcome_row(rtb("r", **overrides))


def ids(api: APIClient, **params: str) -> set[str]:
    response = api.get("/api/outcomes/", params)
    assert response.status_code == 200, response.content
    return {item["bid_id"] for item in response.json()["results"]}


def test_list_filters_campaign_source_and_nbr(api: APIClient, mixed: None) -> None:
    assert ids(api, campaign="7") == {"rtb-bid-1"}
    assert ids(api, campaign="0") == {"openrtb-1"}
    assert ids(api, source="rtb") == {"rtb-bid-1", "rtb-bid-2", "rtb-coppa", "rtb-floor", "rtb-floor-2"}
    assert ids(api, source="helios") == {"helios-1"}
    assert ids(api, nbr="504") == {"rtb-floor", "rtb-floor-2"}
    assert ids(api, source="rtb", nbr="500") == {"rtb-coppa"}
    assert api.get("/api/outcomes/", {"campaign": "7"}).json()["count"] == 1
    assert api.get("/api/outcomes/stats/", {"source": "rtb"}).json()["total_outcomes"] == 5


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("campaign", "x"),
        ("campaign", "-1"),
        ("campaign", str(2**63)),
        ("source", "dsp"),
        ("nbr", "1.5"),
        ("nbr", "504.0"),
        ("campaign", "1e3"),
    ],
)
def test_bad_values_are_400_naming_the_parameter(api: APIClient, name: str, value: str) -> None:
    for url in ("/api/outcomes/", "/api/outcomes/rtb-stats/"):
        response = api.get(url, {name: value})
        assert response.status_code == 400, response.content
        assert list(response.json()) == [name]


def test_rtb_stats_count_by_privacy_state_and_no_bid_code(api: APIClient, mixed: None) -> None:
    assert api.get("/api/outcomes/rtb-stats/").json() == {
        "outcomes": 5,
        "bids": 2,
        "by_privacy": {"coppa": 1, "gdpr_consent": 1, "lmt": 1, "open": 2},
        "by_nbr": {"500": 1, "504": 2},
    }
    assert api.get("/api/outcomes/rtb-stats/", {"nbr": "504", "search": "floor"}).json() == {
        "outcomes": 2,
        "bids": 0,
        "by_privacy": {"lmt": 1, "open": 1},
        "by_nbr": {"504": 2},
    }


def test_rtb_stats_on_no_rtb_outcome_are_zeros(api: APIClient) -> None:
    store(outcome_message())
    empty = {"outcomes": 0, "bids": 0, "by_privacy": {}, "by_nbr": {}}
    assert api.get("/api/outcomes/rtb-stats/").json() == empty


def test_the_schema_documents_the_filters_and_rtb_stats(api: APIClient) -> None:
    schema = api.get("/api/schema/", {"format": "json"}).json()
    parameters = {p["name"]: p["schema"] for p in schema["paths"]["/api/outcomes/"]["get"]["parameters"]}
    assert parameters["source"]["enum"] == ["helios", "openrtb", "rtb"]
    assert parameters["campaign"]["type"] == parameters["nbr"]["type"] == "integer"
    stats = schema["components"]["schemas"]["OutcomeRtbStats"]["properties"]
    assert set(stats) == {"outcomes", "bids", "by_privacy", "by_nbr"}


def test_admin_filters_by_source_and_campaign(admin_client: Client, mixed: None) -> None:
    advertiser = Advertiser.objects.create(name="Acme", adomain="acme.example")
    campaign = Campaign.objects.create(advertiser=advertiser, name="Acme spring sale")
    store(rtb("rtb-acme", campaign=campaign.pk))
    page = admin_client.get("/admin/outcomes/auctionoutcome/")
    assert page.status_code == 200
    assert b"Acme spring sale" in page.content and b"house (built-in)" in page.content
    by_campaign = admin_client.get(f"/admin/outcomes/auctionoutcome/?campaign={campaign.pk}")
    assert b"rtb-acme" in by_campaign.content and b"rtb-bid-1" not in by_campaign.content
    by_source = admin_client.get("/admin/outcomes/auctionoutcome/?source=helios")
    assert b"helios-1" in by_source.content and b"rtb-bid-1" not in by_source.content
    assert admin_client.get("/admin/outcomes/outcomertbrollup/").status_code == 200


def test_unfiltered_rtb_stats_come_from_the_rollups(
    api: APIClient, mixed: None, django_assert_max_num_queries: Any
) -> None:
    with django_assert_max_num_queries(1) as captured:
        unfiltered = api.get("/api/outcomes/rtb-stats/").json()
    assert "outcomes_outcomertbrollup" in captured.captured_queries[0]["sql"]
    assert "outcomes_auctionoutcome" not in captured.captured_queries[0]["sql"]
    # The same numbers as the rows grouped (any filter reads the rows).
    assert unfiltered == api.get("/api/outcomes/rtb-stats/", {"source": "rtb"}).json()


def test_rollups_count_only_newly_stored_rtb_rows(api: APIClient) -> None:
    first = [rtb("r1"), rtb("r2", nbr=504), rtb("r3", nbr=504, privacy=None)]
    store(*first)
    store(*first, rtb("r4", privacy="gpc"))  # a re-delivery, plus one new
    expected = {
        "outcomes": 4,
        "bids": 2,
        "by_privacy": {"gpc": 1, "open": 2, "unknown": 1},
        "by_nbr": {"504": 2},
    }
    assert api.get("/api/outcomes/rtb-stats/").json() == expected
    assert api.get("/api/outcomes/rtb-stats/", {"source": "rtb"}).json() == expected
