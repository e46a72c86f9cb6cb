"""The campaign and creative rules, table-driven (pure: no database)."""

from datetime import UTC, datetime
from typing import Any

import pytest

from campaigns.iab import IAB_DISPLAY_SIZES, content_categories
from campaigns.tests.conftest import campaign_values
from campaigns.validation import campaign_errors, creative_errors

T0 = datetime(2026, 12, 1, tzinfo=UTC)


def test_a_valid_campaign_has_no_errors() -> None:
    assert campaign_errors(campaign_values()) == {}


@pytest.mark.parametrize(
    ("overrides", "field", "fragment"),
    [
        ({"start_at": T0, "end_at": T0}, "end_at", "after the start"),
        ({"start_at": T0, "end_at": datetime(2026, 11, 30, tzinfo=UTC)}, "end_at", "after the start"),
        ({"total_budget_micros": -1}, "total_budget_micros", "negative"),
        ({"daily_budget_micros": -5}, "daily_budget_micros", "negative"),
        ({"max_cpm_micros": -5}, "max_cpm_micros", "negative"),
        ({"daily_budget_micros": 2_000_000_000}, "daily_budget_micros", "exceed the total"),
        ({"pacing": "even", "daily_budget_micros": None}, "pacing", "daily budget"),
        ({"strategy": "fixed", "fixed_cpm_micros": None}, "fixed_cpm_micros", "CPM above 0"),
        ({"fixed_cpm_micros": 3_000_000, "max_cpm_micros": 2_000_000}, "fixed_cpm_micros", "max CPM"),
        ({"strategy": "interest_tiers", "tier_multiplier": 0}, "tier_multiplier", "above 0"),
        ({"max_cpm_micros": 0}, "max_cpm_micros", "above 0"),
        ({"cat": ["IAB1", "IAB99"]}, "cat", "IAB99"),
        ({"cat": ["iab1"]}, "cat", "iab1"),
        ({"cat": ["IAB1", "IAB1"]}, "cat", "duplicates"),
        ({"cat": "IAB1"}, "cat", "a list"),
        ({"site_domains_include": ["News.com"]}, "site_domains_include", "News.com"),
        ({"site_domains_exclude": ["http://x.com"]}, "site_domains_exclude", "http://x.com"),
        ({"app_bundles_include": ["com.app with space"]}, "app_bundles_include", "bundle"),
        ({"countries": ["US"]}, "countries", "alpha-3"),
        ({"device_types": [0, 9]}, "device_types", "1-8"),
        ({"device_types": [True]}, "device_types", "1-8"),
        ({"hours_utc": [24]}, "hours_utc", "0-23"),
        ({"interest_categories": ["Sports!"]}, "interest_categories", "interest"),
        ({"min_interest_score": 1.5}, "min_interest_score", "between 0 and 1"),
        ({"frequency_cap": 3}, "frequency_cap", "both"),
        ({"frequency_cap": 0, "frequency_window_s": 60}, "frequency_cap", "at least 1"),
        ({"site_domains_include": [f"s{i}.com" for i in range(1001)]}, "site_domains_include", "at most"),
    ],
)
def test_campaign_rules(overrides: dict[str, Any], field: str, fragment: str) -> None:
    errors = campaign_errors(campaign_values(**overrides))
    assert field in errors, errors
    assert any(fragment in message for message in errors[field]), errors[field]


def test_good_targeting_passes() -> None:
    values = campaign_values(
        cat=["IAB2", "IAB2-10", "IAB26-4"],
        site_domains_include=["news.com", "sport.example.co.uk"],
        app_bundles_exclude=["com.example.game", "1234567890"],
        countries=["USA", "DEU"],
        device_types=[1, 2, 8],
        hours_utc=[0, 23],
        interest_categories=["sports", "fine-dining"],
        min_interest_score=0.7,
        frequency_cap=3,
        frequency_window_s=86400,
        strategy="interest_tiers",
        tier_multiplier=1.5,
        fixed_cpm_micros=None,
    )
    assert campaign_errors(values) == {}


def test_the_shipped_taxonomy_is_iab_1_0() -> None:
    codes = content_categories()
    assert len(codes) == 392
    assert codes["IAB19-6"] == "Cell Phones"
    assert {f"IAB{n}" for n in range(1, 27)} <= set(codes)
    assert "IAB27" not in codes and "IAB7-46" not in codes


def creative(**overrides: Any) -> dict[str, Any]:
    values: dict[str, Any] = {"media": "banner", "w": 300, "h": 250, "image_url": "https://cdn.example/a.png",
                              "landing_url": "https://example.com/"}  # fmt: skip
    values.update(overrides)
    return values


@pytest.mark.parametrize(
    "values",
    [
        creative(),
        creative(w=728, h=90),
        creative(media="banner", image_url="", landing_url="", markup="<div>${AUCTION_PRICE}</div>"),
        creative(media="video", w=1920, h=1080, image_url="", markup="<VAST/>"),
        creative(media="video", w=1080, h=1920, image_url="", markup="<VAST/>"),
        creative(media="audio", w=None, h=None, image_url="", markup="<VAST/>"),
        creative(media="native", w=1200, h=627, image_url="", markup='{"native": {}}'),
        creative(media="native", w=None, h=None, image_url="", markup='{"native": {}}'),
        creative(interest_category="sports"),
    ],
)
def test_valid_creatives(values: dict[str, Any]) -> None:
    assert creative_errors(values) == {}


@pytest.mark.parametrize(
    ("values", "field", "fragment"),
    [
        (creative(w=301, h=250), "w", "IAB standard size"),
        (creative(w=3000, h=2500), "w", "IAB standard size"),
        (creative(w=None, h=None), "w", "IAB standard size"),
        (creative(w=300, h=None), "w", "both"),
        (creative(media="video", w=7680, h=4320, image_url="", markup="<VAST/>"), "w", "3840x2160"),
        (creative(media="video", w=None, h=None, image_url="", markup="<VAST/>"), "w", "video needs"),
        (creative(media="audio", w=300, h=250, image_url="", markup="<VAST/>"), "w", "no size"),
        (creative(media="native", w=5000, h=10, image_url="", markup="{}"), "w", "4096"),
        (creative(image_url="", landing_url=""), "markup", "markup template"),
        (creative(landing_url=""), "landing_url", "landing URL"),
        (creative(media="video", w=640, h=360), "image_url", "banner"),
        (creative(interest_category="Sports Fans"), "interest_category", "interest"),
    ],
)
def test_creative_rules(values: dict[str, Any], field: str, fragment: str) -> None:
    errors = creative_errors(values)
    assert field in errors, errors
    assert any(fragment in message for message in errors[field]), errors[field]


def test_every_iab_size_is_a_valid_banner() -> None:
    for w, h in IAB_DISPLAY_SIZES:
        assert creative_errors(creative(w=w, h=h)) == {}
