"""The campaign index as plain data: placement lookups, creative fit, dates and hours (pure)."""

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from campaigns.index import CampaignSpec, CreativeSpec, build_index, domain_suffixes

T0 = datetime(2026, 12, 4, 12, 0, tzinfo=UTC)


def creative(
    cid: int, campaign_id: int, media: str = "banner", w: int | None = 300, h: int | None = 250
) -> CreativeSpec:
    return CreativeSpec(id=cid, campaign_id=campaign_id, crid=f"cr-{cid}", media=media, w=w, h=h, title="t",
                        markup="", image_url="https://cdn.example/x.png", landing_url="https://example.com/",
                        interest_category=None)  # fmt: skip


def campaign(cid: int, **overrides: Any) -> CampaignSpec:
    values: dict[str, Any] = {
        "id": cid, "key": None, "name": f"c{cid}", "advertiser_id": 1, "adomain": "example.com", "start_at": None, "end_at": None,
        "total_budget_micros": None, "daily_budget_micros": None, "pacing": "asap", "strategy": "fixed",
        "fixed_cpm_micros": 1_000_000, "tier_multiplier": 1.0, "max_cpm_micros": None, "cat": (),
        "site_domains_include": frozenset(), "site_domains_exclude": frozenset(), "app_bundles_include": frozenset(),
        "app_bundles_exclude": frozenset(), "interest_categories": frozenset(), "min_interest_score": 0.0,
        "countries": frozenset(), "device_types": frozenset(), "hours_utc": frozenset(), "frequency_cap": None,
        "frequency_window_s": None, "creatives": (creative(cid * 10, cid),),
    }  # fmt: skip
    values.update(overrides)
    return CampaignSpec(**values)


def ids(campaigns: Sequence[CampaignSpec]) -> list[int]:
    return [c.id for c in campaigns]


INDEX = build_index(
    [
        campaign(3, site_domains_include=frozenset({"news.com"})),
        campaign(1),  # runs everywhere
        campaign(2, site_domains_exclude=frozenset({"bad.com"}), app_bundles_exclude=frozenset({"com.bad"})),
        campaign(4, app_bundles_include=frozenset({"com.game"})),
        campaign(5, site_domains_include=frozenset({"news.com"}), app_bundles_include=frozenset({"com.news"})),
        campaign(6, key="house", creatives=(creative(60, 6, "video", 640, 360), creative(61, 6, "native", None, None))),
    ],
    version=7,
    loaded_at=T0,
)


def test_placement_candidates_by_site() -> None:
    assert ids(INDEX.placement_candidates(site_domain="news.com")) == [1, 2, 3, 5, 6]
    assert ids(INDEX.placement_candidates(site_domain="www.NEWS.com")) == [1, 2, 3, 5, 6]  # parent domain, any case
    assert ids(INDEX.placement_candidates(site_domain="fakenews.com")) == [1, 2, 6]
    assert ids(INDEX.placement_candidates(site_domain="m.bad.com")) == [1, 6]


def test_placement_candidates_by_app() -> None:
    assert ids(INDEX.placement_candidates(app_bundle="com.game")) == [1, 2, 4, 6]
    assert ids(INDEX.placement_candidates(app_bundle="com.news")) == [1, 2, 5, 6]
    assert ids(INDEX.placement_candidates(app_bundle="com.bad")) == [1, 6]
    assert ids(INDEX.placement_candidates()) == [1, 2, 6]


def test_lookups_by_id_and_key() -> None:
    assert INDEX.version == 7
    assert ids(list(INDEX.campaigns)) == [1, 2, 3, 4, 5, 6]
    assert INDEX.by_id[4].app_bundles_include == {"com.game"}
    assert INDEX.by_key["house"].id == 6


def test_creatives_fitting() -> None:
    assert [c.id for c in INDEX.creatives_fitting("banner", [(300, 250)])] == [10, 20, 30, 40, 50]
    assert INDEX.creatives_fitting("banner", [(728, 90)]) == ()
    assert [c.id for c in INDEX.creatives_fitting("video", [(640, 360)])] == [60]
    assert [c.id for c in INDEX.creatives_fitting("native")] == [61]
    assert INDEX.creatives_fitting("audio") == ()


def test_runs_at_dates_and_hours() -> None:
    dated = campaign(1, start_at=T0, end_at=datetime(2026, 12, 5, tzinfo=UTC), hours_utc=frozenset({12, 13}))
    assert dated.runs_at(T0)
    assert not dated.runs_at(datetime(2026, 12, 4, 11, 59, tzinfo=UTC))  # before the start
    assert not dated.runs_at(datetime(2026, 12, 4, 14, 0, tzinfo=UTC))  # outside its hours
    assert not dated.runs_at(datetime(2026, 12, 5, tzinfo=UTC))  # the end is exclusive
    assert campaign(2).runs_at(T0)


def test_domain_suffixes() -> None:
    assert domain_suffixes("a.News.com.") == ["a.news.com", "news.com", "com"]


def test_the_index_is_immutable() -> None:
    import pytest

    with pytest.raises(AttributeError):
        INDEX.version = 8  # type: ignore[misc]
    with pytest.raises(TypeError):
        INDEX.by_id[99] = campaign(99)  # type: ignore[index]
