import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bidding.creatives import DEFAULT_CATALOG, DEFAULT_CREATIVE, Creative, CreativeCatalog, catalog_from_config
from bidding.pricing import DEFAULT_TIERS, BidDecision, PriceTier, Tiers, best_interest, price_bid
from bidding.tests.fakes import profile
from profiles.types import CATEGORIES, Interest, Profile

TIER_PRICES = {"premium": 1.20, "standard": 0.85, "mid": 0.60, "base": 0.35}


def priced(score: float | None, floor: float = 0.0, currency: str = "USD") -> BidDecision:
    user = profile("u1", ("sports", score)) if score is not None else None
    return price_bid(profile=user, floor=floor, floor_currency=currency)


@pytest.mark.parametrize(
    ("score", "tier"),
    [
        (1.0, "premium"),
        (0.95, "premium"),
        (math.nextafter(0.9, 1.0), "premium"),  # just above 0.9
        (0.9, "standard"),  # 0.9 itself is standard: premium is s > 0.9
        (0.8, "standard"),
        (0.7, "standard"),
        (math.nextafter(0.7, 0.0), "mid"),
        (0.6999, "mid"),
        (0.5, "mid"),
        (0.4999, "base"),
        (math.nextafter(0.5, 0.0), "base"),
        (0.1, "base"),
        (0.0, "base"),
        (-0.5, "base"),
    ],
)
def test_tier_boundaries(score: float, tier: str) -> None:
    decision = priced(score)
    assert decision.tier == tier
    assert decision.bid_price == TIER_PRICES[tier]
    assert decision.enriched
    assert decision.winning_interest == "sports"
    assert decision.interest_score == score
    assert decision.no_bid_reason is None
    assert decision.creative is not None


def test_no_profile_bids_base_unenriched_with_default_creative() -> None:
    decision = price_bid(profile=None, floor=0.0, floor_currency="USD")
    assert decision == BidDecision(
        bid_price=0.35,
        tier="base",
        enriched=False,
        winning_interest=None,
        interest_score=None,
        user_interests=[],
        no_bid_reason=None,
        creative=DEFAULT_CREATIVE,
    )


def test_profile_without_interests_bids_base_but_is_enriched() -> None:
    decision = price_bid(profile=profile("u1"), floor=0.0, floor_currency="USD")
    assert (decision.tier, decision.bid_price, decision.enriched) == ("base", 0.35, True)
    assert decision.winning_interest is None
    assert decision.interest_score is None
    assert decision.user_interests == []
    assert decision.creative == DEFAULT_CREATIVE


def test_highest_interest_wins_and_all_interests_are_listed() -> None:
    user = profile("u1", ("food", 0.3), ("technology", 0.92), ("travel", 0.75))
    decision = price_bid(profile=user, floor=0.0, floor_currency="USD")
    assert decision.winning_interest == "technology"
    assert decision.interest_score == 0.92
    assert decision.tier == "premium"
    assert decision.user_interests == ["food", "technology", "travel"]
    assert decision.creative == DEFAULT_CATALOG.for_interest("technology")


@pytest.mark.parametrize(
    ("interests", "winner"),
    [
        ([("food", 0.8), ("sports", 0.8)], "food"),
        ([("music", 0.1), ("gaming", 0.8), ("sports", 0.8), ("food", 0.8)], "gaming"),
        ([("fashion", 0.95), ("fitness", 0.95)], "fashion"),
    ],
)
def test_ties_go_to_the_first_listed(interests: list[tuple[str, float]], winner: str) -> None:
    decision = price_bid(profile=profile("u1", *interests), floor=0.0, floor_currency="USD")
    assert decision.winning_interest == winner


def test_low_scoring_interest_still_picks_its_creative() -> None:
    decision = priced(0.2)
    assert decision.tier == "base"
    assert decision.winning_interest == "sports"
    assert decision.creative == DEFAULT_CATALOG.by_category["sports"]


def test_non_finite_scores_are_ignored() -> None:
    user = profile("u1", ("sports", math.nan), ("food", 0.6), ("travel", math.inf))
    decision = price_bid(profile=user, floor=0.0, floor_currency="USD")
    assert (decision.winning_interest, decision.tier) == ("food", "mid")
    assert best_interest([Interest("sports", math.nan)]) is None


def test_price_equal_to_floor_bids() -> None:
    decision = priced(0.8, floor=0.85)
    assert decision.bids
    assert decision.bid_price == 0.85
    assert decision.no_bid_reason is None


@pytest.mark.parametrize(("score", "floor"), [(0.8, 0.8501), (0.95, 1.21), (None, 0.36), (0.5, 10.0)])
def test_price_below_floor_does_not_bid(score: float | None, floor: float) -> None:
    decision = priced(score, floor=floor)
    assert not decision.bids
    assert decision.bid_price == 0
    assert decision.no_bid_reason == "below_floor"
    assert decision.creative is None
    assert decision.enriched is (score is not None)


def test_nan_floor_does_not_bid() -> None:
    assert priced(0.95, floor=math.nan).no_bid_reason == "below_floor"


@pytest.mark.parametrize("currency", ["EUR", "GBP", "", "US"])
def test_non_usd_floor_does_not_bid(currency: str) -> None:
    decision = priced(0.95, floor=0.0, currency=currency)
    assert decision.no_bid_reason == "currency"
    assert decision.bid_price == 0
    assert decision.creative is None
    assert decision.tier == "premium"  # what it would have bid


def test_currency_is_checked_before_the_floor() -> None:
    assert priced(0.95, floor=100.0, currency="EUR").no_bid_reason == "currency"


@pytest.mark.parametrize("currency", ["usd", " USD ", "Usd"])
def test_usd_floor_currency_is_case_insensitive(currency: str) -> None:
    assert priced(0.95, currency=currency).bids


def test_creative_follows_winning_interest_for_every_category() -> None:
    ids = set()
    for category in CATEGORIES:
        decision = price_bid(profile=profile("u", (category, 0.8)), floor=0.0, floor_currency="USD")
        assert decision.creative is not None
        assert category in decision.creative.creative_id
        ids.add(decision.creative.creative_id)
    assert len(ids) == len(CATEGORIES)
    assert DEFAULT_CREATIVE.creative_id not in ids


def test_unknown_category_gets_the_default_creative() -> None:
    decision = price_bid(profile=profile("u", ("knitting", 0.95)), floor=0.0, floor_currency="USD")
    assert decision.winning_interest == "knitting"
    assert decision.creative == DEFAULT_CREATIVE


def test_custom_tiers_and_creatives() -> None:
    tiers = Tiers((PriceTier("gold", 0.5, 2.0),), base_name="floor", base_price=0.1)
    special = Creative("cr-x", "X", "https://cdn.example/x.png", "https://example.com/x")
    catalog = CreativeCatalog(by_category={"sports": special}, default=DEFAULT_CREATIVE)
    decision = price_bid(
        profile=profile("u", ("sports", 0.5)), floor=1.5, floor_currency="USD", tiers=tiers, creatives=catalog
    )
    assert (decision.tier, decision.bid_price, decision.creative) == ("gold", 2.0, special)
    assert price_bid(profile=None, floor=0, floor_currency="USD", tiers=tiers).tier == "floor"


# --- tier configuration ---


def test_default_tiers_from_config_equal_the_built_in_ones() -> None:
    config = [
        {"name": "mid", "min_score": 0.5, "price": 0.60},
        {"name": "premium", "min_score": 0.9, "price": 1.20, "inclusive": False},
        {"name": "base", "price": 0.35},
        {"name": "standard", "min_score": 0.7, "price": 0.85, "inclusive": True},
    ]
    assert Tiers.from_config(config) == DEFAULT_TIERS


def test_tiers_are_ordered_so_the_exclusive_tier_wins_above_its_bound() -> None:
    tiers = Tiers((PriceTier("at", 0.5, 1.0), PriceTier("above", 0.5, 2.0, inclusive=False)))
    assert tiers.for_score(0.5).name == "at"
    assert tiers.for_score(0.51).name == "above"
    assert tiers.for_score(None).name == "base"


@pytest.mark.parametrize(
    "config",
    [
        "premium",
        [{"name": "premium", "min_score": 0.9, "price": 1.2}],  # no base
        [{"name": "base", "price": 0.35}, {"name": "base2", "price": 0.4}],  # two bases
        [{"name": "base", "price": 0.35}, {"name": "base", "min_score": 0.5, "price": 0.6}],  # duplicate name
        [{"name": "base", "price": 0}],  # zero price means no bid
        [{"name": "base", "price": -1}],
        [{"name": "base", "price": "0.35"}],
        [{"name": "base", "price": 0.35}, {"name": "x", "min_score": "high", "price": 1}],
        [{"name": "base", "price": 0.35}, {"name": "x", "min_score": 0.5, "price": 1, "inclusive": "yes"}],
        [{"name": "base", "price": 0.35, "colour": "red"}],
        [{"name": "base", "price": 0.35}, {"name": "x", "min_score": math.nan, "price": 1}],
        [["base", 0.35]],
    ],
)
def test_bad_tier_config_is_rejected(config: object) -> None:
    with pytest.raises(ValueError):
        Tiers.from_config(config)  # type: ignore[arg-type]


def test_creative_config_overrides_some_entries() -> None:
    entry = {"creative_id": "cr-s2", "title": "T", "image_url": "https://i.example/a.png", "landing_url": "https://l"}
    catalog = catalog_from_config({"sports": entry, "default": {**entry, "creative_id": "cr-d2"}, "pets": entry})
    assert catalog.for_interest("sports").creative_id == "cr-s2"
    assert catalog.for_interest("pets").creative_id == "cr-s2"
    assert catalog.for_interest(None).creative_id == "cr-d2"
    assert catalog.for_interest("food") == DEFAULT_CATALOG.for_interest("food")


@pytest.mark.parametrize(
    "config",
    [
        [],
        {"sports": "cr-1"},
        {"sports": {"creative_id": "cr-1"}},
        {"sports": {"creative_id": "", "title": "T", "image_url": "i", "landing_url": "l"}},
        {"sports": {"creative_id": "c", "title": "T", "image_url": "i", "landing_url": "l", "extra": 1}},
    ],
)
def test_bad_creative_config_is_rejected(config: object) -> None:
    with pytest.raises(ValueError):
        catalog_from_config(config)  # type: ignore[arg-type]


def test_built_in_catalog_has_one_complete_creative_per_category_and_a_default() -> None:
    assert set(DEFAULT_CATALOG.by_category) == set(CATEGORIES)
    creatives = [*DEFAULT_CATALOG.by_category.values(), DEFAULT_CATALOG.default]
    assert len({c.creative_id for c in creatives}) == len(CATEGORIES) + 1
    for creative in creatives:
        assert creative.title
        assert creative.image_url.startswith("https://")
        assert creative.landing_url.startswith("https://")


# --- properties ---

scores = st.floats(min_value=-0.5, max_value=1.5) | st.sampled_from([0.5, 0.7, 0.9, math.nan, math.inf])
interests = st.builds(Interest, category=st.sampled_from([*CATEGORIES, "other"]), score=scores)
profiles = st.none() | st.builds(Profile, user_id=st.just("u"), interests=st.lists(interests, max_size=6))
floors = st.floats(min_value=0, max_value=2) | st.sampled_from([0.0, 0.35, 0.6, 0.85, 1.2])
currencies = st.sampled_from(["USD", "usd", "EUR"])


def spec_price(profile: Profile | None) -> float:
    """SPEC §5's table, written independently of the implementation."""
    finite = [i.score for i in profile.interests if math.isfinite(i.score)] if profile else []
    if not finite:
        return 0.35
    s = max(finite)
    if s > 0.9:
        return 1.20
    if 0.7 <= s <= 0.9:
        return 0.85
    if 0.5 <= s < 0.7:
        return 0.60
    return 0.35


@given(profile=profiles, floor=floors, currency=currencies)
def test_price_follows_the_spec_table(profile: Profile | None, floor: float, currency: str) -> None:
    decision = price_bid(profile=profile, floor=floor, floor_currency=currency)
    price = spec_price(profile)
    assert TIER_PRICES[decision.tier] == price
    assert decision.bid_price in {0.0, *DEFAULT_TIERS.prices}
    assert decision.enriched is (profile is not None)
    if currency == "EUR":
        assert decision.no_bid_reason == "currency"
    elif price < floor:
        assert decision.no_bid_reason == "below_floor"
    else:
        assert decision.no_bid_reason is None
    if decision.bids:
        assert decision.bid_price == price
        assert decision.bid_price >= floor
        assert decision.creative is not None
    else:
        assert decision.bid_price == 0
        assert decision.creative is None


@given(profile=profiles)
def test_winning_interest_has_the_highest_score_and_comes_first(profile: Profile | None) -> None:
    decision = price_bid(profile=profile, floor=0, floor_currency="USD")
    finite = [i for i in profile.interests if math.isfinite(i.score)] if profile else []
    if not finite:
        assert decision.winning_interest is None
        return
    top = max(i.score for i in finite)
    first = next(i for i in finite if i.score == top)
    assert (decision.winning_interest, decision.interest_score) == (first.category, top)
    assert decision.user_interests == [i.category for i in profile.interests]  # type: ignore[union-attr]


def test_pricing_imports_no_io() -> None:
    """ARCHITECTURE §1: bidding/pricing.py imports no I/O (no Django, Kafka, Redis or gRPC). Of the
    pipeline it may use the vocabulary only (`pipeline.messages`, itself pure: checked here too,
    as whatever it imports is in sys.modules)."""
    import subprocess
    import sys

    from conftest import REPO

    code = (
        "import sys, bidding.pricing, bidding.creatives\n"
        "bad = sorted(m for m in sys.modules if m.split('.')[0] in "
        "{'django', 'grpc', 'redis', 'confluent_kafka', 'arroyo', 'prometheus_client', 'pipeline'} "
        "and m not in ('pipeline', 'pipeline.messages'))\n"
        "assert not bad, bad\n"
    )
    subprocess.run([sys.executable, "-c", code], cwd=REPO, check=True, env={"PYTHONPATH": str(REPO)})
