"""/stats/ and /daily-stats/ equal a brute-force computation over random outcome sets, stored the
way the outcomes role stores them (so the unfiltered answers come from real rollups)."""

from collections import defaultdict
from datetime import UTC, date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from rest_framework.test import APIClient

from outcomes.models import AuctionOutcome, OutcomeDailyRollup
from outcomes.services import outcome_record_batch
from outcomes.tests.factories import outcome_message, outcome_rows
from pipeline import messages

pytestmark = pytest.mark.django_db

START = datetime(2026, 11, 20, tzinfo=UTC)
Q4 = Decimal("0.0001")
ZERO_STATS = {
    "total_outcomes": 0,
    "total_wins": 0,
    "total_losses": 0,
    "total_revenue": 0,
    "average_win_price": 0,
    "average_bid_price": 0,
    "enriched_count": 0,
    "win_rate": 0,
}


@pytest.fixture
def api(settings: Any) -> APIClient:
    settings.HELIOS_PUBLIC_API = True
    return APIClient()


# One generated outcome: (won, bid price in cents, enriched, user, seconds after START). Spread
# over 4 days, with a price grid that makes sums and averages round.
outcome_specs = st.lists(
    st.tuples(
        st.booleans(),
        st.integers(min_value=0, max_value=500),
        st.booleans(),
        st.sampled_from(["user-001", "user-002", None]),
        st.integers(min_value=0, max_value=4 * 86400 - 1),
    ),
    max_size=25,
)
filters = st.sampled_from(
    [
        {},
        {"enriched": "true"},
        {"user_id": "user-001"},
        {"win_status": "false"},
        {"min_bid": "1.5"},
        {"since": "2026-11-22"},
    ]
)


def load(specs: list[tuple[bool, int, bool, str | None, int]]) -> list[messages.AuctionOutcomeMessage]:
    AuctionOutcome.objects.all().delete()
    OutcomeDailyRollup.objects.all().delete()
    outcomes = [
        outcome_message(
            bid_request_id=f"req-{index}",
            won=won,
            bid_price=cents / 100,
            enriched=enriched,
            user_id=user,
            received=START + timedelta(seconds=offset),
        )
        for index, (won, cents, enriched, user, offset) in enumerate(specs)
    ]
    outcome_record_batch(rows=outcome_rows(outcomes))
    return outcomes


def matches(outcome: messages.AuctionOutcomeMessage, params: dict[str, str]) -> bool:
    if "enriched" in params and not outcome.enriched:
        return False
    if "user_id" in params and outcome.user_id != params["user_id"]:
        return False
    if "win_status" in params and outcome.win_status:
        return False
    if "min_bid" in params and Decimal(repr(outcome.bid_price)) < Decimal(params["min_bid"]):
        return False
    return not ("since" in params and messages.parse_time(outcome.received_at).date() < date(2026, 11, 22))


def avg(total: Decimal, count: int) -> float:
    return float((total / count).quantize(Q4, rounding=ROUND_HALF_UP)) if count else 0.0


def brute_stats(outcomes: list[messages.AuctionOutcomeMessage]) -> dict[str, Any]:
    wins = [o for o in outcomes if o.win_status]
    revenue = sum((Decimal(repr(o.win_price)) for o in wins), Decimal(0))
    bids = sum((Decimal(repr(o.bid_price)) for o in outcomes), Decimal(0))
    rate = Decimal(len(wins) * 100) / len(outcomes) if outcomes else Decimal(0)
    return {
        "total_outcomes": len(outcomes),
        "total_wins": len(wins),
        "total_losses": len(outcomes) - len(wins),
        "total_revenue": float(revenue),
        "average_win_price": avg(revenue, len(wins)),
        "average_bid_price": avg(bids, len(outcomes)),
        "enriched_count": sum(o.enriched for o in outcomes),
        "win_rate": float(rate.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)),
    }


def brute_daily(outcomes: list[messages.AuctionOutcomeMessage], since: date | None = None) -> list[dict[str, Any]]:
    """With `since`, every day from it to the last day with outcomes is listed (zeros when empty)."""
    days: dict[date, list[messages.AuctionOutcomeMessage]] = defaultdict(list)
    for outcome in outcomes:
        days[messages.parse_time(outcome.received_at).astimezone(UTC).date()].append(outcome)
    if since is not None and days:
        for n in range((max(days) - since).days + 1):
            days.setdefault(since + timedelta(days=n), [])
    result = []
    for day in sorted(days):
        wins = [o for o in days[day] if o.win_status]
        revenue = sum((Decimal(repr(o.win_price)) for o in wins), Decimal(0))
        result.append(
            {
                "date": day.isoformat(),
                "total": len(days[day]),
                "wins": len(wins),
                "revenue": float(revenue),
                "avg_win_price": avg(revenue, len(wins)),
            }
        )
    return result


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(specs=outcome_specs, params=filters)
def test_stats_and_daily_stats_equal_brute_force(api: APIClient, specs: Any, params: dict[str, str]) -> None:
    outcomes = [o for o in load(specs) if matches(o, params)]
    assert api.get("/api/outcomes/stats/", params).json() == brute_stats(outcomes)
    daily = api.get("/api/outcomes/daily-stats/", params).json()
    assert daily == brute_daily(outcomes, date(2026, 11, 22) if "since" in params else None)
    assert api.get("/api/outcomes/daily_stats/", params).json() == daily
    # The list agrees with the stats on the same filters.
    assert api.get("/api/outcomes/", {**params, "page_size": "1"}).json()["count"] == len(outcomes)


def test_empty_set_is_zeros_never_null(api: APIClient) -> None:
    stats = api.get("/api/outcomes/stats/").json()
    assert stats == ZERO_STATS
    assert all(value is not None for value in stats.values())
    assert api.get("/api/outcomes/stats/", {"user_id": "nobody"}).json() == ZERO_STATS
    assert api.get("/api/outcomes/daily-stats/").json() == []
    assert api.get("/api/outcomes/daily-stats/", {"user_id": "nobody"}).json() == []


def test_a_day_without_wins_has_zero_revenue_and_average(api: APIClient) -> None:
    load([(False, 85, True, "user-001", 10), (False, 120, True, "user-001", 20), (True, 60, True, None, 86400)])
    for params in ({}, {"enriched": "true"}):
        days = api.get("/api/outcomes/daily-stats/", params).json()
        assert days[0] == {"date": "2026-11-20", "total": 2, "wins": 0, "revenue": 0.0, "avg_win_price": 0.0}
        assert days[1] == {"date": "2026-11-21", "total": 1, "wins": 1, "revenue": 0.6, "avg_win_price": 0.6}
    stats = api.get("/api/outcomes/stats/").json()
    assert stats["win_rate"] == 33.33 and stats["average_win_price"] == 0.6 and stats["average_bid_price"] == 0.8833


def test_unfiltered_answers_come_from_the_rollups(api: APIClient, django_assert_max_num_queries: Any) -> None:
    load([(True, 100, True, "user-001", n) for n in range(5)])
    with django_assert_max_num_queries(1) as captured:
        assert api.get("/api/outcomes/stats/").json()["total_outcomes"] == 5
    assert "outcomes_outcomedailyrollup" in captured.captured_queries[0]["sql"]
    assert "outcomes_auctionoutcome" not in captured.captured_queries[0]["sql"]
    with django_assert_max_num_queries(1) as captured:
        assert api.get("/api/outcomes/daily-stats/").json()[0]["total"] == 5
    assert "outcomes_auctionoutcome" not in captured.captured_queries[0]["sql"]
    with django_assert_max_num_queries(2) as captured:
        assert api.get("/api/outcomes/", {"page_size": 2}).json()["count"] == 5
    assert "COUNT" not in captured.captured_queries[0]["sql"].upper()
    assert "outcomes_outcomedailyrollup" in captured.captured_queries[1]["sql"]


def test_daily_stats_list_days_without_outcomes_as_zeros_inside_since_until(api: APIClient) -> None:
    """Issue 14: a chart of a requested range has every day, not only the days with outcomes."""
    load([(True, 85, True, "user-001", 0), (False, 60, True, "user-001", 3 * 86400)])
    start = START.date()
    zero = {"total": 0, "wins": 0, "revenue": 0.0, "avg_win_price": 0.0}
    params = {"since": (start - timedelta(days=1)).isoformat(), "until": (start + timedelta(days=5)).isoformat()}
    days = api.get("/api/outcomes/daily-stats/", params).json()
    assert [d["date"] for d in days] == [(start + timedelta(days=n)).isoformat() for n in range(-1, 5)]
    assert [d["total"] for d in days] == [0, 1, 0, 0, 1, 0]
    assert days[0] == {"date": (start - timedelta(days=1)).isoformat(), **zero}
    # The same with a filter (aggregated over rows instead of the rollups), and with one bound.
    assert api.get("/api/outcomes/daily-stats/", {**params, "user_id": "user-001"}).json() == days
    since_only = api.get("/api/outcomes/daily-stats/", {"since": params["since"]}).json()
    assert [d["total"] for d in since_only] == [0, 1, 0, 0, 1]
    # Without since/until, the days with outcomes only (as before).
    assert [d["total"] for d in api.get("/api/outcomes/daily-stats/").json()] == [1, 1]


def test_a_daily_range_of_centuries_is_bounded(api: APIClient) -> None:
    load([(True, 85, True, "user-001", 0)])
    days = api.get("/api/outcomes/daily-stats/", {"since": "0001-01-01", "until": "9999-12-31"}).json()
    assert len(days) == 3660 + 1  # the last 3660 days of the range, and the day with outcomes
    assert sum(d["total"] for d in days) == 1
