"""The bid decision (bidding/decision.py): targeting, blocks, floors, currency, creative fit, ties."""

import math
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from msgspec.structs import replace

from bidding.creatives import DEFAULT_CATALOG
from bidding.decision import Decision, NoBid, Placement, Pricing, Slot, decide
from bidding.house import house_campaign, house_index
from bidding.pricing import price_bid
from bidding.tests.fakes import profile
from campaigns.index import CampaignSpec, CreativeSpec, build_index
from pipeline.messages import NoBidReason
from profiles.types import CATEGORIES, Interest, Profile

NOW = datetime(2026, 12, 4, 14, 30, tzinfo=UTC)
PRICING = Pricing(rates={"EUR": 1.10})
HOUSE = house_campaign(DEFAULT_CATALOG)


def creative(cid: int, campaign_id: int, media: str = "banner", w: int | None = 300, h: int | None = 250,
             interest: str | None = None) -> CreativeSpec:  # fmt: skip
    return CreativeSpec(id=cid, campaign_id=campaign_id, crid=f"cr-{campaign_id}-{cid}", media=media, w=w, h=h,
                        title="t", markup="", image_url="https://x.example/i.png",
                        landing_url="https://x.example/", interest_category=interest)  # fmt: skip


def campaign(
    cid: int, *, cpm: float = 2.0, creatives: tuple[CreativeSpec, ...] | None = None, **fields: Any
) -> CampaignSpec:
    """A fixed-CPM campaign running everywhere with one 300x250 banner, `fields` replaced."""
    base = replace(HOUSE, id=cid, key=None, name=f"c{cid}", adomain=f"adv{cid}.example", strategy="fixed",
                   fixed_cpm_micros=round(cpm * 1e6), creatives=creatives or (creative(cid * 10, cid),))  # fmt: skip
    return replace(base, **fields)


def run(*campaigns: CampaignSpec, placement: Placement | None = None, slot: Slot | None = None,
        user: Profile | None = None, **kwargs: Any) -> Decision:  # fmt: skip
    index = build_index(campaigns, version=1, loaded_at=NOW)
    return decide(index, placement or Placement(), slot or Slot("1"), profile=user, now=NOW, pricing=PRICING, **kwargs)


def winner(*campaigns: CampaignSpec, **kwargs: Any) -> int | NoBid | None:
    decision = run(*campaigns, **kwargs)
    return decision.bid.campaign.id if decision.bid is not None else decision.no_bid


SPORTY = profile("u1", ("sports", 0.8), ("travel", 0.3))


@pytest.mark.parametrize(
    ("fields", "placement", "user", "expected"),
    [
        ({}, Placement(), None, 1),
        ({"site_domains_include": frozenset({"news.example"})}, Placement(site_domain="www.news.example"), None, 1),
        ({"site_domains_include": frozenset({"news.example"})}, Placement(site_domain="other.example"), None, NoBid.NO_CAMPAIGN),
        ({"site_domains_exclude": frozenset({"news.example"})}, Placement(site_domain="a.news.example"), None, NoBid.NO_CAMPAIGN),
        ({"app_bundles_include": frozenset({"com.game"})}, Placement(app_bundle="com.game"), None, 1),
        ({"app_bundles_include": frozenset({"com.game"})}, Placement(site_domain="news.example"), None, NoBid.NO_CAMPAIGN),
        ({"app_bundles_exclude": frozenset({"com.game"})}, Placement(app_bundle="com.game"), None, NoBid.NO_CAMPAIGN),
        ({"countries": frozenset({"USA"})}, Placement(country="USA"), None, 1),
        ({"countries": frozenset({"USA"})}, Placement(country="FRA"), None, NoBid.NO_CAMPAIGN),
        ({"countries": frozenset({"USA"})}, Placement(), None, NoBid.NO_CAMPAIGN),
        ({"device_types": frozenset({4, 5})}, Placement(device_type=4), None, 1),
        ({"device_types": frozenset({4, 5})}, Placement(device_type=2), None, NoBid.NO_CAMPAIGN),
        ({"hours_utc": frozenset({14})}, Placement(), None, 1),
        ({"hours_utc": frozenset({15, 16})}, Placement(), None, NoBid.NO_CAMPAIGN),
        ({"start_at": datetime(2026, 12, 5, tzinfo=UTC)}, Placement(), None, NoBid.NO_CAMPAIGN),
        ({"end_at": NOW}, Placement(), None, NoBid.NO_CAMPAIGN),
        ({"end_at": datetime(2026, 12, 5, tzinfo=UTC)}, Placement(), None, 1),
        ({"interest_categories": frozenset({"sports"}), "min_interest_score": 0.7}, Placement(), SPORTY, 1),
        ({"interest_categories": frozenset({"sports"}), "min_interest_score": 0.9}, Placement(), SPORTY, NoBid.NO_CAMPAIGN),
        ({"interest_categories": frozenset({"travel"}), "min_interest_score": 0.3}, Placement(), SPORTY, 1),
        ({"interest_categories": frozenset({"sports"})}, Placement(), None, NoBid.NO_CAMPAIGN),
        # a restricted request (SPEC §16) is decided as for an unknown user
        ({"interest_categories": frozenset({"sports"})}, Placement(restricted=True), SPORTY, NoBid.NO_CAMPAIGN),
    ],
)  # fmt: skip
def test_targeting(fields: dict[str, Any], placement: Placement, user: Profile | None, expected: int | NoBid) -> None:
    assert winner(campaign(1, **fields), placement=placement, user=user) == expected


@pytest.mark.parametrize(
    ("creatives", "slot", "expected"),
    [
        ((creative(1, 1),), Slot("1", media="banner", sizes=((300, 250),)), "cr-1-1"),
        ((creative(1, 1),), Slot("1", media="banner", sizes=((728, 90), (300, 250))), "cr-1-1"),  # a `format` size
        ((creative(1, 1),), Slot("1", media="banner", sizes=((728, 90),)), NoBid.NO_CREATIVE),
        ((creative(1, 1),), Slot("1", media="video", sizes=((300, 250),)), NoBid.NO_CREATIVE),
        ((creative(1, 1),), Slot("1", media="banner"), "cr-1-1"),  # no size asked: any size
        ((creative(1, 1),), Slot("1"), "cr-1-1"),  # no media (SPEC §5's /bid): any creative
        ((creative(1, 1, "native", None, None),), Slot("1", media="native", sizes=((1200, 627),)), "cr-1-1"),
        ((creative(1, 1, w=728, h=90), creative(2, 1)), Slot("1", media="banner", sizes=((300, 250),)), "cr-1-2"),
        ((creative(1, 1, interest="travel"),), Slot("1"), NoBid.NO_CREATIVE),  # only for travel fans
    ],
)  # fmt: skip
def test_creative_fit(creatives: tuple[CreativeSpec, ...], slot: Slot, expected: str | NoBid) -> None:
    decision = run(campaign(1, creatives=creatives), slot=slot, user=SPORTY)
    assert (decision.bid.creative.crid if decision.bid else decision.no_bid) == expected


def test_the_creative_follows_the_winning_interest_else_the_one_for_anyone() -> None:
    creatives = (creative(1, 1, interest="travel"), creative(2, 1, interest="sports"), creative(3, 1))
    assert run(campaign(1, creatives=creatives), user=SPORTY).bid.creative.crid == "cr-1-2"  # type: ignore[union-attr]
    assert run(campaign(1, creatives=creatives), user=None).bid.creative.crid == "cr-1-3"  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("cat", "adomain", "placement", "expected"),
    [
        (("IAB17-1",), "adv.example", Placement(bcat=frozenset({"IAB17-1"})), NoBid.BLOCKED),
        (("IAB17-1",), "adv.example", Placement(bcat=frozenset({"IAB17"})), NoBid.BLOCKED),  # the parent blocks
        (("IAB17",), "adv.example", Placement(bcat=frozenset({"IAB17-1"})), 1),  # a child does not
        (("IAB2", "IAB17"), "adv.example", Placement(bcat=frozenset({"IAB17"})), NoBid.BLOCKED),
        (("IAB2",), "adv.example", Placement(bcat=frozenset({"IAB7"})), 1),
        ((), "adv.example", Placement(badv=frozenset({"adv.example"})), NoBid.BLOCKED),
        ((), "shop.adv.example", Placement(badv=frozenset({"adv.example"})), NoBid.BLOCKED),
        ((), "adv.example", Placement(badv=frozenset({"other.example"})), 1),
        ((), "adv.example", Placement(bapp=frozenset({"com.rival.app"})), 1),  # campaigns advertise no app
    ],
)  # fmt: skip
def test_blocks(cat: tuple[str, ...], adomain: str, placement: Placement, expected: int | NoBid) -> None:
    assert winner(campaign(1, cat=cat, adomain=adomain), placement=placement) == expected


@pytest.mark.parametrize(
    ("slot", "placement", "expected"),
    [
        (Slot("1", 1.99), Placement(), 1),
        (Slot("1", 2.0), Placement(), 1),  # a price equal to the floor bids
        (Slot("1", 2.01), Placement(), NoBid.BELOW_FLOOR),
        (Slot("1", math.nan), Placement(), NoBid.BELOW_FLOOR),
        (Slot("1", 1.80, "EUR"), Placement(), 1),  # 1.98 USD
        (Slot("1", 1.90, "eur"), Placement(), NoBid.BELOW_FLOOR),  # 2.09 USD
        (Slot("1", 0.1, "GBP"), Placement(), NoBid.CURRENCY),  # no rate configured
        (Slot("1", 0.1, " usd "), Placement(), 1),
        (Slot("1"), Placement(cur=("USD", "EUR")), 1),
        (Slot("1"), Placement(cur=("usd",)), 1),
        (Slot("1"), Placement(cur=("EUR",)), NoBid.CURRENCY),  # the bid would not be in an allowed currency
    ],
)  # fmt: skip
def test_floors_and_currency(slot: Slot, placement: Placement, expected: int | NoBid) -> None:
    assert winner(campaign(1, cpm=2.0), slot=slot, placement=placement) == expected


def test_highest_cpm_wins_ties_go_to_the_lowest_id() -> None:
    assert winner(campaign(3, cpm=1.0), campaign(2, cpm=3.0), campaign(1, cpm=2.0)) == 2
    assert winner(campaign(3, cpm=2.0), campaign(2, cpm=2.0), campaign(5, cpm=1.0)) == 2


def test_a_cheaper_campaign_above_the_floor_wins_over_a_blocked_or_targeted_out_one() -> None:
    blocked = campaign(1, cpm=5.0, cat=("IAB7",))
    elsewhere = campaign(2, cpm=4.0, countries=frozenset({"FRA"}))
    assert winner(blocked, elsewhere, campaign(3, cpm=1.0), placement=Placement(bcat=frozenset({"IAB7"}))) == 3


def test_the_reason_is_the_furthest_any_candidate_got() -> None:
    floor = Slot("1", 3.0, media="banner", sizes=((300, 250),))
    assert winner(campaign(1, countries=frozenset({"FRA"})), campaign(2, cpm=2.0), slot=floor) == NoBid.BELOW_FLOOR
    assert winner(campaign(1, countries=frozenset({"FRA"})), campaign(2, cat=("IAB7",)),
                  placement=Placement(bcat=frozenset({"IAB7"}))) == NoBid.BLOCKED  # fmt: skip
    assert winner() == NoBid.NO_CAMPAIGN


@pytest.mark.parametrize(
    ("fields", "user", "price"),
    [
        ({"strategy": "fixed", "fixed_cpm_micros": 2_500_000}, SPORTY, 2.5),
        ({"strategy": "fixed", "fixed_cpm_micros": 2_500_000, "max_cpm_micros": 2_000_000}, SPORTY, 2.0),
        ({"strategy": "interest_tiers", "tier_multiplier": 1.0}, SPORTY, 0.85),  # standard tier
        ({"strategy": "interest_tiers", "tier_multiplier": 2.5}, SPORTY, 2.125),
        ({"strategy": "interest_tiers", "tier_multiplier": 2.0}, None, 0.70),  # base tier
        ({"strategy": "interest_tiers", "tier_multiplier": 2.0, "max_cpm_micros": 500_000}, None, 0.5),
    ],
)  # fmt: skip
def test_strategy_prices(fields: dict[str, Any], user: Profile | None, price: float) -> None:
    decision = run(campaign(1, **fields), user=user)
    assert decision.bid is not None and decision.bid.price == pytest.approx(price)


def test_restricted_requests_are_priced_as_an_unknown_user() -> None:
    tiers = campaign(1, strategy="interest_tiers", tier_multiplier=1.0)
    decision = run(tiers, user=SPORTY, placement=Placement(restricted=True))
    assert decision.bid is not None and decision.bid.price == 0.35 and decision.interest is None


def test_the_room_seam_is_asked_in_price_order_and_can_refuse() -> None:
    asked: list[tuple[int, int, str | None]] = []

    def room(c: CampaignSpec, price_micros: int, user_id: str | None) -> bool:
        asked.append((c.id, price_micros, user_id))
        return c.id != 2

    campaigns = (campaign(1, cpm=1.0), campaign(2, cpm=3.0), campaign(3, cpm=2.0))
    assert winner(*campaigns, placement=Placement(user_id="u1"), room=room) == 3
    assert asked == [(2, 3_000_000, "u1"), (3, 2_000_000, "u1")]
    assert winner(campaign(2), room=room) == NoBid.NO_ROOM
    asked.clear()
    winner(campaign(1), placement=Placement(user_id="u1", restricted=True), room=room)
    assert asked == [(1, 2_000_000, None)]  # no frequency counting by user when restricted


def test_a_decision_carries_every_priced_candidate_best_first_for_an_asynchronous_ledger() -> None:
    campaigns = (campaign(1, cpm=1.0), campaign(2, cpm=3.0), campaign(3, cpm=2.0), campaign(4, cpm=0.5))
    decision = run(*campaigns, slot=Slot("1", bidfloor=0.9), room=lambda c, p, u: c.id != 2)
    assert [(b.campaign.id, b.price_micros) for b in decision.candidates] == [(2, 3_000_000), (3, 2_000_000),
                                                                               (1, 1_000_000)]  # fmt: skip
    assert decision.bid == decision.candidates[1]  # the first with room; 4 is under the floor
    assert run(campaign(1, cpm=0.5), slot=Slot("1", bidfloor=0.9)).candidates == ()


def test_every_no_bid_has_an_nbr_code_and_a_recorded_reason() -> None:
    assert {n.reason for n in NoBid} <= set(NoBidReason)
    assert NoBid.BELOW_FLOOR.reason == NoBidReason.BELOW_FLOOR and NoBid.CURRENCY.reason == NoBidReason.CURRENCY
    assert all(n.nbr >= 500 for n in NoBid)  # the vendor range of OpenRTB's list


# The house campaign decides exactly as SPEC §5's pricing (bidding/pricing.py) always has.
scores = st.floats(min_value=-0.5, max_value=1.5) | st.sampled_from([0.5, 0.7, 0.9, math.nan, math.inf])
interests = st.builds(Interest, category=st.sampled_from([*CATEGORIES, "other"]), score=scores)
profiles = st.none() | st.builds(Profile, user_id=st.just("u"), interests=st.lists(interests, max_size=6))
floors = st.floats(min_value=0, max_value=2) | st.sampled_from([0.0, 0.35, 0.6, 0.85, 1.2, math.nan])
currencies = st.sampled_from(["USD", "usd", " USD", "EUR", "GBP"])


@given(user=profiles, floor=floors, currency=currencies, domain=st.sampled_from([None, "news.example"]))
def test_the_house_decides_as_the_section_5_pricing(user: Profile | None, floor: float, currency: str,
                                                    domain: str | None) -> None:  # fmt: skip
    expected = price_bid(profile=user, floor=floor, floor_currency=currency)
    decided = decide(house_index(DEFAULT_CATALOG), Placement(site_domain=domain), Slot("1", floor, currency),
                     profile=user, now=NOW, pricing=Pricing())  # fmt: skip
    assert decided.tier.name == expected.tier
    assert (decided.no_bid.reason if decided.no_bid else None) == expected.no_bid_reason
    if decided.bid is not None:
        assert decided.bid.price == expected.bid_price
        assert expected.creative is not None and decided.bid.creative.crid == expected.creative.creative_id
        assert decided.bid.creative.title == expected.creative.title
