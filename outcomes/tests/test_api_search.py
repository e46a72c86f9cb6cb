"""`search` in /stats/ and the list's `count` (counted as disjoint parts, outcomes.search) equals
a brute-force computation, including rows that match by site AND by id (counted once), rows
without a site, and a site walk cut short (the one-part fallback); and an API statement that
outlasts HELIOS_API_STATEMENT_TIMEOUT_MS is a 503 with the reason."""

from datetime import timedelta
from typing import Any

import pytest
from django.db import connection
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from rest_framework.test import APIClient

from outcomes import apis, search
from outcomes.tests.test_api_stats import START, brute_stats, load_messages
from pipeline import messages

pytestmark = pytest.mark.django_db

SITES = ["news.example", "shop.NEWS.io", "sports.example", "e", None]
USERS = ["newsreader-1", "user-002", "e", None]
TERMS = ["news", "NEWS", "ws.", "sport", "e", "ex", "user-00", "req-1", "no-such-thing", "%", "_"]
OTHER = [{}, {"win_status": "true"}, {"enriched": "false"}, {"user_id": "user-002"}, {"site_domain": "news.example"}]

outcome_specs = st.lists(
    st.tuples(
        st.booleans(),
        st.integers(min_value=0, max_value=500),
        st.booleans(),
        st.sampled_from(USERS),
        st.sampled_from(SITES),
        st.sampled_from(["req-", "news-"]),
    ),
    max_size=25,
)


@pytest.fixture
def api(settings: Any) -> APIClient:
    settings.HELIOS_PUBLIC_API = True
    return APIClient()


def found(outcome: messages.AuctionOutcomeMessage, term: str, other: dict[str, str]) -> bool:
    fields = (outcome.bid_request_id, outcome.user_id, outcome.site_domain)
    if len(term) < 3:
        hit = term in fields
    else:
        hit = any(value is not None and term.upper() in value.upper() for value in fields)
    checks = {
        "win_status": lambda: outcome.win_status,
        "enriched": lambda: not outcome.enriched,
        "user_id": lambda: outcome.user_id == other["user_id"],
        "site_domain": lambda: outcome.site_domain == other["site_domain"],
    }
    return hit and all(checks[name]() for name in other)


@pytest.mark.parametrize("walk", ["sites walked", "walk cut short"])
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(specs=outcome_specs, term=st.sampled_from(TERMS), other=st.sampled_from(OTHER))
def test_search_stats_and_count_equal_brute_force(
    api: APIClient, monkeypatch: pytest.MonkeyPatch, walk: str, specs: Any, term: str, other: dict[str, str]
) -> None:
    if walk == "walk cut short":
        monkeypatch.setattr(search, "MAX_WALKED_SITES", 1)
    stored = load_messages(
        [
            {
                "bid_request_id": f"{prefix}{index}",
                "won": won,
                "bid_price": cents / 100,
                "enriched": enriched,
                "user_id": user,
                "site_domain": site,
                "received": START + timedelta(seconds=index),
            }
            for index, (won, cents, enriched, user, site, prefix) in enumerate(specs)
        ]
    )
    params = {"search": term, **other}
    expected = [o for o in stored if found(o, term, other)]
    assert api.get("/api/outcomes/stats/", params).json() == brute_stats(expected)
    listed = api.get("/api/outcomes/", {**params, "page_size": "1"}).json()
    assert listed["count"] == len(expected)
    winners = api.get("/api/outcomes/winners/", {**params, "page_size": "1"}).json()
    assert winners["count"] == sum(o.win_status for o in expected)


def test_a_row_found_by_site_and_by_user_id_counts_once(api: APIClient) -> None:
    stored = load_messages(
        [
            {
                "bid_request_id": "a",
                "user_id": "news-fan",
                "site_domain": "news.example",
                "won": True,
                "bid_price": 1.0,
            },
            {"bid_request_id": "b", "user_id": "news-fan", "site_domain": None, "won": False, "bid_price": 0.5},
            {"bid_request_id": "c", "user_id": "other", "site_domain": "NEWS.io", "won": True, "bid_price": 2.0},
            {"bid_request_id": "d", "user_id": "other", "site_domain": "other.io", "won": True, "bid_price": 3.0},
        ]
    )
    stats = api.get("/api/outcomes/stats/", {"search": "news"}).json()
    assert stats == brute_stats(stored[:3])
    assert stats["total_outcomes"] == 3 and stats["total_wins"] == 2 and stats["total_revenue"] == 3.0
    assert api.get("/api/outcomes/", {"search": "news", "page_size": "1"}).json()["count"] == 3


@pytest.mark.skipif(connection.vendor != "postgresql", reason="statement_timeout is PostgreSQL's")
def test_a_statement_past_the_timeout_is_a_503_with_the_reason(
    api: APIClient, settings: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings.HELIOS_API_STATEMENT_TIMEOUT_MS = 200

    def slow_stats(**kwargs: Any) -> None:
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_sleep(30)")  # a hostile query's stand-in

    monkeypatch.setattr(apis, "outcome_stats", slow_stats)
    response = api.get("/api/outcomes/stats/", {"search": "news"})
    assert response.status_code == 503
    assert "HELIOS_API_STATEMENT_TIMEOUT_MS" in response.json()["detail"]


@pytest.mark.skipif(connection.vendor != "postgresql", reason="statement_timeout is PostgreSQL's")
@pytest.mark.django_db(transaction=True)
def test_the_timeout_is_lifted_after_the_request(api: APIClient, settings: Any) -> None:
    """The web role's connection may be reused (embedded mode's roles share it): no limit stays."""
    settings.HELIOS_API_STATEMENT_TIMEOUT_MS = 1234
    assert api.get("/api/outcomes/stats/", {"search": "news"}).status_code == 200
    with connection.cursor() as cursor:
        cursor.execute("SHOW statement_timeout")
        assert cursor.fetchone()[0] == "0"
