"""The REST API as a client sees it: envelopes, fields, filters, ordering, pagination, and a 400
naming the parameter for every bad value (SPEC §7)."""

import os
import subprocess
import sys
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from rest_framework.test import APIClient

from outcomes.filters import OutcomeFilter, OutcomeListFilter
from outcomes.models import AuctionOutcome
from outcomes.openapi import filter_parameters
from outcomes.pagination import MAX_PAGE_SIZE
from outcomes.services import outcome_record_batch
from outcomes.tests.factories import BASE_TIME, AuctionOutcomeFactory, outcome_message, outcome_rows

pytestmark = pytest.mark.django_db

LIST_FIELDS = {
    "id",
    "bid_id",
    "imp_id",
    "user_id",
    "site_domain",
    "win_status",
    "win_price",
    "bid_price",
    "currency",
    "enriched",
    "timestamp",
    # SPEC §12, §14: what the campaign decision chose and, for RTB bids, what the notices made of them.
    "source",
    "campaign_id",
    "creative_id",
    "rtb_bid_id",
    "price_cpm",
    "status",
    "clearing_cpm",
    "loss_code",
    "nbr",
}
DETAIL_FIELDS = {
    "id",
    "bid_id",
    "request_digest",
    "imp_id",
    "user_id",
    "site_domain",
    "win_status",
    "win_price",
    "bid_price",
    "bid_floor",
    "currency",
    "enriched",
    "winning_interest",
    "user_interests",
    "creative_id",
    "loss_reason",
    "timestamp",
    "auction_timestamp",
    "created_at",
    "is_winner",
    # SPEC §12's columns (migration 0005)
    "source",
    "campaign_id",
    "rtb_bid_id",
    "nbr",
    "privacy",
    "latency_ms",
    "deadline_ms",
    # SPEC §14's (migration 0006)
    "status",
    "clearing_cpm",
    "loss_code",
}
FILTERED_ENDPOINTS = [
    "/api/outcomes/",
    "/api/outcomes/winners/",
    "/api/outcomes/stats/",
    "/api/outcomes/daily-stats/",
    "/api/outcomes/daily_stats/",
]


@pytest.fixture
def api(settings: Any) -> APIClient:
    settings.HELIOS_PUBLIC_API = True
    return APIClient()


def store(**overrides: Any) -> None:
    assert outcome_record_batch(rows=outcome_rows([outcome_message(**overrides)])) == 1


def get(api: APIClient, url: str, **params: Any) -> Any:
    response = api.get(url, params)
    assert response.status_code == 200, response.content
    return response.json()


def bid_ids(api: APIClient, url: str = "/api/outcomes/", **params: Any) -> list[str]:
    return [item["bid_id"] for item in get(api, url, **params)["results"]]


@pytest.fixture
def sample() -> None:
    """Six outcomes, one second apart (a is the oldest), with distinct prices, users and sites."""
    at = BASE_TIME
    store(bid_request_id="a", received=at, user_id="user-001", site_domain="news.com", bid_price=0.35, won=True)
    store(bid_request_id="b", received=at + timedelta(seconds=1), user_id="user-002", site_domain="shop.example", bid_price=1.2, won=False)  # fmt: skip
    store(bid_request_id="c", received=at + timedelta(seconds=2), user_id="user-001", site_domain="shop.example", bid_price=0.85, won=True, enriched=False)  # fmt: skip
    store(bid_request_id="d", received=at + timedelta(seconds=3), user_id=None, site_domain=None, bid_price=0.6, won=False, enriched=False)  # fmt: skip
    store(bid_request_id="e", received=at + timedelta(days=1), user_id="user-003", site_domain="News.com", bid_price=1.2, won=True)  # fmt: skip
    store(bid_request_id="f", received=at + timedelta(days=1, seconds=1), user_id="Searchable-7", site_domain="blog.org", bid_price=0.6, won=True)  # fmt: skip


# --- the list ---


def test_list_envelope_items_and_default_order(api: APIClient, sample: None) -> None:
    body = get(api, "/api/outcomes/")
    assert set(body) == {"count", "next", "previous", "results"}
    assert body["count"] == 6 and body["next"] is None and body["previous"] is None
    assert [item["bid_id"] for item in body["results"]] == ["f", "e", "d", "c", "b", "a"]  # -timestamp
    item = body["results"][4]
    assert set(item) == LIST_FIELDS
    assert item == {
        "id": AuctionOutcome.objects.get(bid_id="b").pk,
        "bid_id": "b",
        "imp_id": "1",
        "user_id": "user-002",
        "site_domain": "shop.example",
        "win_status": False,
        "win_price": 0.0,
        "bid_price": 1.2,  # money is a JSON number, not a string
        "currency": "USD",
        "enriched": True,
        "timestamp": "2026-11-26T12:00:01Z",
        "source": "helios",
        "campaign_id": None,
        "creative_id": AuctionOutcome.objects.get(bid_id="b").creative_id,  # the factory's, by its sequence
        "rtb_bid_id": None,
        "price_cpm": 1.2,
        "status": None,  # the auction of `POST /bid` is simulated: no notices
        "clearing_cpm": None,
        "loss_code": None,
        "nbr": None,
    }
    nulls = body["results"][2]
    assert nulls["user_id"] is None and nulls["site_domain"] is None


def test_list_empty(api: APIClient) -> None:
    assert get(api, "/api/outcomes/") == {"count": 0, "next": None, "previous": None, "results": []}
    assert get(api, "/api/outcomes/", user_id="nobody")["count"] == 0


def test_pagination_walks_every_row_once_with_links(api: APIClient, sample: None) -> None:
    first = get(api, "/api/outcomes/", page_size=4)
    assert first["count"] == 6 and len(first["results"]) == 4 and first["previous"] is None
    assert first["next"] == "http://testserver/api/outcomes/?page=2&page_size=4"
    second = api.get(first["next"]).json()
    assert second["count"] == 6 and second["next"] is None
    assert second["previous"] == "http://testserver/api/outcomes/?page_size=4"
    seen = [item["bid_id"] for item in first["results"] + second["results"]]
    assert seen == ["f", "e", "d", "c", "b", "a"]


def test_pagination_keeps_filters_in_links_and_count_is_exact_on_every_page(api: APIClient, sample: None) -> None:
    page1 = get(api, "/api/outcomes/", win_status="true", page_size=1)
    assert page1["count"] == 4  # wins, counted from the rollups
    page2 = get(api, "/api/outcomes/", win_status="true", page_size=1, page=2)
    assert "win_status=true" in page2["next"] and "page=1" not in page2["previous"]
    assert "page=2" in get(api, "/api/outcomes/", win_status="true", page_size=1, page=3)["previous"]
    last = get(api, "/api/outcomes/", win_status="true", page_size=1, page=4)
    assert last["count"] == 4 and last["next"] is None
    assert get(api, "/api/outcomes/", win_status="false", page_size=1)["count"] == 2
    assert get(api, "/api/outcomes/", site_domain="shop.example", page_size=1)["count"] == 2  # COUNT(*)
    assert get(api, "/api/outcomes/", page_size=2, page=3)["count"] == 6


def test_page_size_limits(api: APIClient) -> None:
    outcome_record_batch(rows=outcome_rows([outcome_message() for _ in range(MAX_PAGE_SIZE + 5)]))
    assert len(get(api, "/api/outcomes/")["results"]) == 100  # the default
    big = get(api, "/api/outcomes/", page_size=MAX_PAGE_SIZE)
    assert len(big["results"]) == MAX_PAGE_SIZE and big["count"] == MAX_PAGE_SIZE + 5
    assert len(get(api, "/api/outcomes/", page_size=MAX_PAGE_SIZE, page=2)["results"]) == 5
    response = api.get("/api/outcomes/", {"page_size": MAX_PAGE_SIZE + 1})
    assert response.status_code == 400 and "page_size" in response.json()


def test_page_past_the_last_is_404_and_page_one_of_nothing_is_empty(api: APIClient, sample: None) -> None:
    response = api.get("/api/outcomes/", {"page": 2})
    assert response.status_code == 404 and "detail" in response.json()
    assert api.get("/api/outcomes/", {"page": 100, "page_size": 100}).status_code == 404  # the deepest page
    assert api.get("/api/outcomes/", {"page": "2", "user_id": "nobody"}).status_code == 404
    assert get(api, "/api/outcomes/", user_id="nobody", page=1)["results"] == []


@pytest.mark.parametrize(("page", "page_size"), [(10**9, 1), (10_001, 1), (11, 1000), (101, 100)])
def test_pages_beyond_the_result_window_are_refused(api: APIClient, sample: None, page: int, page_size: int) -> None:
    """An OFFSET reads every row it skips: deep pages are refused (issue 14), not served slowly.
    DRF's answer to a page it cannot serve, a 404, saying why."""
    response = api.get("/api/outcomes/", {"page": page, "page_size": page_size})
    assert response.status_code == 404
    assert "at most the first 10000 results" in response.json()["detail"]


def test_the_result_window_is_a_setting(api: APIClient, sample: None, settings: Any) -> None:
    settings.HELIOS_API_MAX_RESULTS = 4
    assert len(get(api, "/api/outcomes/", page=2, page_size=2)["results"]) == 2
    assert "at most the first 4 results" in api.get("/api/outcomes/", {"page": 3, "page_size": 2}).json()["detail"]
    assert api.get("/api/outcomes/winners/", {"page_size": 5}).status_code == 404


def test_throttling_is_off_by_default_and_answers_429_once_a_rate_is_set(
    api: APIClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    from django.core.cache import cache
    from rest_framework.throttling import SimpleRateThrottle

    cache.clear()
    assert all(api.get("/api/outcomes/stats/").status_code == 200 for _ in range(5))
    # DRF reads the rates once, at import: what HELIOS_API_THROTTLE_ANON sets (next test).
    monkeypatch.setattr(SimpleRateThrottle, "THROTTLE_RATES", {"anon": "2/minute", "user": None})
    try:
        assert [api.get("/api/outcomes/stats/").status_code for _ in range(3)] == [200, 200, 429]
        response = api.get("/api/outcomes/")
        assert response.status_code == 429 and int(response["Retry-After"]) > 0
    finally:
        cache.clear()


@pytest.mark.parametrize(("rate", "expected"), [("30/minute", "(30, 60)"), ("", "None")])
def test_the_throttle_rates_come_from_the_environment(rate: str, expected: str) -> None:
    code = (
        "import django; django.setup(); from rest_framework.throttling import AnonRateThrottle as T; "
        "t = T(); print((t.num_requests, t.duration) if t.rate else None)"
    )
    env = {**os.environ, "HELIOS_API_THROTTLE_ANON": rate, "DJANGO_SETTINGS_MODULE": "helios_site.settings_dev"}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == expected


def test_a_malformed_throttle_rate_stops_the_start() -> None:
    env = {**os.environ, "HELIOS_API_THROTTLE_USER": "lots", "DJANGO_SETTINGS_MODULE": "helios_site.settings_dev"}
    out = subprocess.run(
        [sys.executable, "-c", "import django; django.setup()"], env=env, capture_output=True, text=True
    )
    assert out.returncode != 0 and "HELIOS_API_THROTTLE_USER" in out.stderr


def test_count_stays_exact_for_rows_the_rollups_do_not_know(api: APIClient, sample: None) -> None:
    """Rows written around outcome_record_batch (not in the rollups) are still listed and counted
    on a page that is not full; a full page never claims fewer rows than it shows."""
    AuctionOutcomeFactory.create_batch(3, timestamp=BASE_TIME - timedelta(days=3))
    assert get(api, "/api/outcomes/")["count"] == 9
    assert get(api, "/api/outcomes/", page_size=8)["count"] >= 9


# --- filters ---


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"user_id": "user-001"}, ["c", "a"]),
        ({"site_domain": "shop.example"}, ["c", "b"]),
        ({"bid_id": "e"}, ["e"]),
        ({"win_status": "true"}, ["f", "e", "c", "a"]),
        ({"win_status": "false"}, ["d", "b"]),
        ({"win_status": "False"}, ["d", "b"]),
        ({"win_status": "1"}, ["f", "e", "c", "a"]),
        ({"enriched": "false"}, ["d", "c"]),
        ({"enriched": "true", "win_status": "true"}, ["f", "e", "a"]),
        ({"min_price": "0.85"}, ["e", "c"]),
        ({"max_price": "0.6"}, ["f", "d", "b", "a"]),
        ({"min_price": "0.5", "max_price": "1"}, ["f", "c"]),
        ({"min_price": "0.84999"}, ["e", "c"]),  # bounds finer than the stored 4 decimals
        ({"max_price": "0.60001"}, ["f", "d", "b", "a"]),
        ({"min_bid": "1.2"}, ["e", "b"]),
        ({"max_bid": "0.6"}, ["f", "d", "a"]),
        ({"min_bid": "6e-1", "max_bid": "0.85"}, ["f", "d", "c"]),
        ({"since": "2026-11-26T12:00:02Z"}, ["f", "e", "d", "c"]),  # inclusive
        ({"until": "2026-11-26T12:00:02Z"}, ["b", "a"]),  # exclusive
        ({"since": "2026-11-26T13:00:01+01:00", "until": "2026-11-26T12:00:03.5"}, ["d", "c", "b"]),
        ({"since": "2026-11-26T13:00:01 01:00"}, ["f", "e", "d", "c", "b"]),  # an unencoded "+"
        ({"since": "2026-11-27"}, ["f", "e"]),  # a date is its midnight UTC
        ({"until": "2026-11-27"}, ["d", "c", "b", "a"]),
        ({"since": "0001-01-01T00:00:00+05:00"}, ["f", "e", "d", "c", "b", "a"]),
        ({"until": "9999-12-31T23:59:59-05:00"}, ["f", "e", "d", "c", "b", "a"]),
        ({"search": "news"}, ["e", "a"]),  # site, any case
        ({"search": "SEARCHABLE"}, ["f"]),  # user id
        ({"search": "user-00"}, ["e", "c", "b", "a"]),
        ({"search": "d"}, ["d"]),  # bid id
        # Under 3 characters a term matches whole values only (no index serves shorter substrings).
        ({"search": "ws"}, []),
        ({"search": "  "}, ["f", "e", "d", "c", "b", "a"]),
        ({"user_id": "", "min_price": "", "enriched": ""}, ["f", "e", "d", "c", "b", "a"]),  # empty = unset
        ({"unknown": "x"}, ["f", "e", "d", "c", "b", "a"]),
    ],
)
def test_filters(api: APIClient, sample: None, params: dict[str, str], expected: list[str]) -> None:
    assert bid_ids(api, **params) == expected
    body = get(api, "/api/outcomes/", **params)
    assert body["count"] == len(expected)


@pytest.mark.parametrize(
    ("ordering", "expected"),
    [
        ("timestamp", ["a", "b", "c", "d", "e", "f"]),
        ("-timestamp", ["f", "e", "d", "c", "b", "a"]),
        ("win_price", ["b", "d", "a", "f", "c", "e"]),  # ties (lost: 0) broken by id
        ("-win_price", ["e", "c", "f", "a", "d", "b"]),
        ("bid_price", ["a", "d", "f", "c", "b", "e"]),
        ("-bid_price", ["e", "b", "c", "f", "d", "a"]),
        ("created_at", ["a", "b", "c", "d", "e", "f"]),
        ("-created_at", ["f", "e", "d", "c", "b", "a"]),
        ("-bid_price,timestamp", ["b", "e", "c", "d", "f", "a"]),
    ],
)
def test_ordering(api: APIClient, sample: None, ordering: str, expected: list[str]) -> None:
    assert bid_ids(api, ordering=ordering) == expected


def test_winners_is_the_list_restricted_to_wins(api: APIClient, sample: None) -> None:
    body = get(api, "/api/outcomes/winners/")
    assert body["count"] == 4 and [item["bid_id"] for item in body["results"]] == ["f", "e", "c", "a"]
    assert all(item["win_status"] for item in body["results"])
    assert bid_ids(api, "/api/outcomes/winners/", user_id="user-001", ordering="win_price") == ["a", "c"]
    assert get(api, "/api/outcomes/winners/", page_size=1)["count"] == 4
    assert get(api, "/api/outcomes/winners/", win_status="false") == {
        "count": 0,
        "next": None,
        "previous": None,
        "results": [],
    }


# --- bad values: 400 naming the parameter, on every endpoint that takes it ---

BAD_FILTERS = [
    ("enriched", "maybe"),
    ("win_status", "2"),
    ("win_status", "yes please"),
    ("min_price", "abc"),
    ("min_price", "-1"),
    ("max_price", "NaN"),
    ("max_price", "Infinity"),
    ("min_bid", "1e999999"),
    ("max_bid", "10000000000000.5"),
    ("max_bid", "0x10"),
    ("min_price", "\x0b9"),  # found by schemathesis: Django's number fields strip whitespace
    ("max_bid", " 1"),
    ("since", "yesterday"),
    ("since", "2026-13-01"),
    ("until", "2026-11-26T25:00:00Z"),
    ("until", "1700000000"),
    ("user_id", "a\x00b"),
    ("site_domain", "x" * 256),
    ("bid_id", "\x00"),
    ("search", "\x00"),
    ("search", "s" * 256),
]
BAD_LIST_PARAMS = [
    ("ordering", "bogus"),
    ("ordering", "raw_data"),
    ("ordering", "timestamp,nope"),
    ("ordering", "--timestamp"),
    ("ordering", ",,"),
    ("ordering", "timestamp,"),
    ("page", "abc"),
    ("page", "0"),
    ("page", "-1"),
    ("page", "1.5"),
    ("page", str(10**30)),
    ("page_size", "0"),
    ("page_size", "1001"),
    ("page_size", "many"),
    ("page", " 2"),
    ("page_size", "10\n"),
]


@pytest.mark.parametrize("url", FILTERED_ENDPOINTS)
@pytest.mark.parametrize(("name", "value"), BAD_FILTERS)
def test_bad_filter_values_are_400_naming_the_parameter(api: APIClient, url: str, name: str, value: str) -> None:
    response = api.get(url, {name: value, "user_id": "ok"} if name != "user_id" else {name: value})
    assert response.status_code == 400, response.content
    body = response.json()
    assert list(body) == [name]
    assert isinstance(body[name], list) and body[name] and all(isinstance(m, str) for m in body[name])


@pytest.mark.parametrize("url", ["/api/outcomes/", "/api/outcomes/winners/"])
@pytest.mark.parametrize(("name", "value"), BAD_LIST_PARAMS)
def test_bad_list_parameters_are_400_naming_the_parameter(api: APIClient, url: str, name: str, value: str) -> None:
    response = api.get(url, {name: value})
    assert response.status_code == 400, response.content
    assert list(response.json()) == [name]


def test_several_bad_values_are_all_named(api: APIClient) -> None:
    response = api.get("/api/outcomes/", {"enriched": "x", "min_price": "y", "since": "z"})
    assert response.status_code == 400
    assert set(response.json()) == {"enriched", "min_price", "since"}


def test_stats_ignore_list_only_parameters(api: APIClient, sample: None) -> None:
    assert get(api, "/api/outcomes/stats/", ordering="bogus", page="x")["total_outcomes"] == 6


# --- one outcome ---


def test_detail_has_every_stored_field_but_raw_data(api: APIClient, sample: None) -> None:
    outcome = AuctionOutcome.objects.get(bid_id="c")
    body = get(api, f"/api/outcomes/{outcome.pk}/")
    assert set(body) == DETAIL_FIELDS
    assert body["is_winner"] is True and body["win_status"] is True
    assert body["win_price"] == 0.85 and body["bid_floor"] == 0.5
    assert body["user_interests"] == outcome.user_interests and body["creative_id"] == outcome.creative_id
    assert body["timestamp"] == "2026-11-26T12:00:02Z"
    assert body["auction_timestamp"] == "2026-11-26T12:00:02.003000Z"
    loser = get(api, f"/api/outcomes/{AuctionOutcome.objects.get(bid_id='b').pk}/")
    assert loser["is_winner"] is False and loser["loss_reason"] == "lost"


@pytest.mark.parametrize(
    "outcome_id", ["999999", "0", "abc", "-1", str(2**63), "1" * 40, "1.0", "\u00b2", "\u0661", "%20"]
)
def test_detail_404(api: APIClient, sample: None, outcome_id: str) -> None:
    response = api.get(f"/api/outcomes/{outcome_id}/")
    assert response.status_code == 404
    assert response["Content-Type"] == "application/json" and "detail" in response.json()


# --- the schema documents what the FilterSets accept ---


def test_schema_parameters_match_the_filtersets() -> None:
    assert {p.name for p in filter_parameters(OutcomeListFilter)} == set(OutcomeListFilter.base_filters)
    assert {p.name for p in filter_parameters(OutcomeFilter)} == set(OutcomeFilter.base_filters)
    assert "ordering" not in OutcomeFilter.base_filters


def test_money_is_a_number_with_4_decimals_at_most(api: APIClient) -> None:
    store(bid_price=1.23456, won=True)
    item = get(api, "/api/outcomes/")["results"][0]
    assert item["bid_price"] == 1.2346 and item["win_price"] == 1.2346
    assert Decimal(str(get(api, "/api/outcomes/stats/")["total_revenue"])) == Decimal("1.2346")
