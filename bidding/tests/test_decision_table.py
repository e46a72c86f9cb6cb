"""More tables for the one bid decision (bidding/decision.py), one per concern, for the cases
bidding/tests/test_decision.py and campaigns/tests/test_index.py leave out: placement edges,
boundaries of dates and hours, interests, look-alike categories and domains, floors per impression
of one request, creative fit per media, ties and the max CPM cap, restricted requests.

Each row is one request against a small index; the expected value is the winning campaign id (or
crid, or price) or the `NoBid` reason, worked out by hand from SPEC §12/§13/§16."""

from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest

from bidding.decision import NoBid, Placement, Slot, decide, decide_request
from bidding.tests.fakes import profile
from bidding.tests.test_decision import NOW, PRICING, campaign, creative, run, winner
from campaigns.index import build_index
from profiles.types import Profile

NEWS = frozenset({"news.example"})
SPORTY = profile("u1", ("sports", 0.8), ("travel", 0.3))
PREMIUM = profile("u2", ("finance", 0.95))
NO_INTERESTS = profile("u3")
ODD_SCORES = profile("u4", ("sports", float("nan")), ("travel", 0.6))


@pytest.mark.parametrize(
    ("fields", "placement", "expected"),
    [
        pytest.param({"site_domains_include": NEWS}, Placement(site_domain="news.example"), 1, id="include-exact"),
        pytest.param({"site_domains_include": NEWS}, Placement(site_domain="a.b.news.example"), 1, id="include-deep-subdomain"),
        pytest.param({"site_domains_include": NEWS}, Placement(site_domain="WWW.News.Example"), 1, id="include-any-case"),
        pytest.param({"site_domains_include": NEWS}, Placement(site_domain="fakenews.example"), NoBid.NO_CAMPAIGN, id="include-not-a-label-suffix"),
        pytest.param({"site_domains_include": frozenset({"sport.news.example"})}, Placement(site_domain="news.example"), NoBid.NO_CAMPAIGN, id="include-child-not-parent"),
        pytest.param({"site_domains_include": NEWS}, Placement(app_bundle="news.example"), NoBid.NO_CAMPAIGN, id="site-include-on-app"),
        pytest.param({"site_domains_include": NEWS}, Placement(), NoBid.NO_CAMPAIGN, id="site-include-no-placement"),
        pytest.param({"site_domains_include": NEWS, "site_domains_exclude": frozenset({"m.news.example"})},
                     Placement(site_domain="m.news.example"), NoBid.NO_CAMPAIGN, id="exclude-beats-include"),
        pytest.param({"site_domains_include": NEWS, "site_domains_exclude": frozenset({"m.news.example"})},
                     Placement(site_domain="www.news.example"), 1, id="exclude-only-its-subtree"),
        pytest.param({"site_domains_exclude": NEWS}, Placement(site_domain="news.example.org"), 1, id="exclude-not-a-prefix"),
        pytest.param({"site_domains_exclude": NEWS}, Placement(app_bundle="com.news"), 1, id="site-exclude-on-app"),
        pytest.param({"app_bundles_exclude": frozenset({"com.game"})}, Placement(site_domain="com.game"), 1, id="app-exclude-on-site"),
        pytest.param({"app_bundles_include": frozenset({"com.game"})}, Placement(app_bundle="com.game.pro"), NoBid.NO_CAMPAIGN, id="bundles-match-exactly"),
        pytest.param({"site_domains_include": NEWS, "app_bundles_include": frozenset({"com.news"})},
                     Placement(app_bundle="com.news"), 1, id="site-or-app-include-app"),
        pytest.param({"site_domains_include": NEWS, "app_bundles_include": frozenset({"com.news"})},
                     Placement(site_domain="news.example"), 1, id="site-or-app-include-site"),
    ],
)  # fmt: skip
def test_placement(fields: dict[str, Any], placement: Placement, expected: int | NoBid) -> None:
    assert winner(campaign(1, **fields), placement=placement) == expected


UTC_PLUS_2 = timezone(timedelta(hours=2))


@pytest.mark.parametrize(
    ("fields", "now", "expected"),
    [
        pytest.param({"start_at": NOW}, NOW, 1, id="start-is-inclusive"),
        pytest.param({"start_at": NOW + timedelta(microseconds=1)}, NOW, NoBid.NO_CAMPAIGN, id="not-yet-started"),
        pytest.param({"end_at": NOW + timedelta(microseconds=1)}, NOW, 1, id="last-instant"),
        pytest.param({"start_at": NOW - timedelta(days=1), "end_at": NOW + timedelta(days=1)}, NOW, 1, id="within-dates"),
        pytest.param({"end_at": NOW - timedelta(days=1)}, NOW, NoBid.NO_CAMPAIGN, id="ended"),
        pytest.param({"hours_utc": frozenset({14})}, NOW.replace(minute=0), 1, id="hour-start"),
        pytest.param({"hours_utc": frozenset({14})}, NOW.replace(minute=59, second=59), 1, id="hour-end"),
        pytest.param({"hours_utc": frozenset({13})}, NOW, NoBid.NO_CAMPAIGN, id="previous-hour"),
        pytest.param({"hours_utc": frozenset({0})}, datetime(2026, 12, 4, 0, 5, tzinfo=UTC), 1, id="midnight"),
        pytest.param({"hours_utc": frozenset({23})}, datetime(2026, 12, 4, 0, 5, tzinfo=UTC), NoBid.NO_CAMPAIGN, id="not-23-at-midnight"),
        # the same instant as NOW (14:30 UTC) given in another time zone: hours are UTC hours
        pytest.param({"hours_utc": frozenset({14})}, NOW.astimezone(UTC_PLUS_2), 1, id="utc-hour-of-an-aware-local-time"),
        pytest.param({"hours_utc": frozenset({16})}, NOW.astimezone(UTC_PLUS_2), NoBid.NO_CAMPAIGN, id="not-the-local-hour"),
        pytest.param({"start_at": NOW}, NOW.astimezone(UTC_PLUS_2), 1, id="dates-compare-instants"),
    ],
)  # fmt: skip
def test_dates_and_hours(fields: dict[str, Any], now: datetime, expected: int | NoBid) -> None:
    index = build_index([campaign(1, **fields)], version=1, loaded_at=NOW)
    decision = decide(index, Placement(), Slot("1"), profile=None, now=now, pricing=PRICING)
    assert (decision.bid.campaign.id if decision.bid else decision.no_bid) == expected


@pytest.mark.parametrize(
    ("fields", "placement", "expected"),
    [
        pytest.param({"device_types": frozenset({4})}, Placement(), NoBid.NO_CAMPAIGN, id="device-types-need-one"),
        pytest.param({"countries": frozenset({"USA", "CAN"})}, Placement(country="CAN"), 1, id="one-of-the-countries"),
        pytest.param({"countries": frozenset({"USA"}), "device_types": frozenset({4})},
                     Placement(country="USA", device_type=5), NoBid.NO_CAMPAIGN, id="every-criterion-must-hold"),
        pytest.param({"countries": frozenset({"USA"}), "device_types": frozenset({4})},
                     Placement(country="USA", device_type=4), 1, id="all-criteria-hold"),
    ],
)  # fmt: skip
def test_geo_and_device(fields: dict[str, Any], placement: Placement, expected: int | NoBid) -> None:
    assert winner(campaign(1, **fields), placement=placement) == expected


@pytest.mark.parametrize(
    ("categories", "min_score", "user", "expected"),
    [
        pytest.param({"finance", "sports"}, 0.5, SPORTY, 1, id="any-of-the-categories"),
        pytest.param({"finance"}, 0.0, SPORTY, NoBid.NO_CAMPAIGN, id="category-the-user-lacks"),
        pytest.param({"sports"}, 0.8, SPORTY, 1, id="score-equal-to-minimum"),
        pytest.param({"sports"}, 0.81, SPORTY, NoBid.NO_CAMPAIGN, id="score-just-under"),
        pytest.param({"travel"}, 0.5, SPORTY, NoBid.NO_CAMPAIGN, id="not-the-best-interest-and-too-low"),
        pytest.param({"sports"}, 0.0, NO_INTERESTS, NoBid.NO_CAMPAIGN, id="user-without-interests"),
        pytest.param({"sports"}, 0.0, ODD_SCORES, NoBid.NO_CAMPAIGN, id="nan-score-never-qualifies"),
        pytest.param({"travel"}, 0.6, ODD_SCORES, 1, id="other-interest-still-counts"),
    ],
)  # fmt: skip
def test_interests(categories: set[str], min_score: float, user: Profile, expected: int | NoBid) -> None:
    fields: dict[str, Any] = {"interest_categories": frozenset(categories), "min_interest_score": min_score}
    assert winner(campaign(1, **fields), user=user) == expected


@pytest.mark.parametrize(
    ("cat", "adomain", "placement", "expected"),
    [
        pytest.param(("IAB17-1",), "adv.example", Placement(bcat=frozenset({"IAB1"})), 1, id="bcat-IAB1-not-IAB17"),
        pytest.param(("IAB1-5",), "adv.example", Placement(bcat=frozenset({"IAB1"})), NoBid.BLOCKED, id="bcat-IAB1-blocks-IAB1-5"),
        pytest.param(("IAB17-1",), "adv.example", Placement(bcat=frozenset({"IAB17-12"})), 1, id="bcat-sibling-child"),
        pytest.param((), "adv.example", Placement(bcat=frozenset({"IAB17"})), 1, id="no-category-no-bcat-block"),
        pytest.param((), "adv.example", Placement(badv=frozenset({"shop.adv.example"})), 1, id="badv-child-not-parent"),
        pytest.param((), "notadv.example", Placement(badv=frozenset({"adv.example"})), 1, id="badv-not-a-label-suffix"),
        pytest.param((), "Shop.ADV.example", Placement(badv=frozenset({"adv.example"})), NoBid.BLOCKED, id="badv-any-case-adomain"),
        pytest.param((), "adv.example", Placement(badv=frozenset({"ADV.Example"})), NoBid.BLOCKED, id="badv-any-case-badv"),
        pytest.param((), "adv.example.", Placement(badv=frozenset({"adv.example"})), NoBid.BLOCKED, id="badv-trailing-dot"),
    ],
)  # fmt: skip
def test_block_lookalikes(cat: tuple[str, ...], adomain: str, placement: Placement, expected: int | NoBid) -> None:
    assert winner(campaign(1, cat=cat, adomain=adomain), placement=placement) == expected


def test_floors_and_currencies_are_per_impression() -> None:
    """One request, five impressions (SPEC §12: the decision is per impression)."""
    index = build_index([campaign(1, cpm=2.0)], version=1, loaded_at=NOW)
    slots = [Slot("usd", 1.0), Slot("gbp", 0.1, "GBP"), Slot("eur-high", 1.9, "EUR"), Slot("eur", 1.5, "EUR"),
             Slot("zero", 0.0)]  # fmt: skip
    decisions = decide_request(index, Placement(), slots, profile=None, now=NOW, pricing=PRICING)
    assert [d.bid.campaign.id if d.bid else d.no_bid for d in decisions] == [
        1, NoBid.CURRENCY, NoBid.BELOW_FLOOR, 1, 1
    ]  # fmt: skip


@pytest.mark.parametrize(
    ("slot", "cur", "expected"),
    [
        pytest.param(Slot("1", 0.0), ("EUR", "GBP"), NoBid.CURRENCY, id="cur-without-usd-even-at-no-floor"),
        pytest.param(Slot("1", 0.0, "EUR"), ("EUR",), NoBid.CURRENCY, id="floor-currency-does-not-widen-cur"),
        pytest.param(Slot("1", 1.0, "EUR"), ("EUR", "USD"), 1, id="usd-among-several"),
        pytest.param(Slot("1", 2.0, "EUR"), ("USD",), NoBid.BELOW_FLOOR, id="converted-floor-above-price"),
        pytest.param(Slot("1", 1e9), (), NoBid.BELOW_FLOOR, id="huge-floor"),
        pytest.param(Slot("1", 0.0, "XXX"), (), NoBid.CURRENCY, id="unknown-currency-even-at-zero"),
    ],
)  # fmt: skip
def test_currency(slot: Slot, cur: tuple[str, ...], expected: int | NoBid) -> None:
    assert winner(campaign(1, cpm=2.0), slot=slot, placement=Placement(cur=cur)) == expected


BANNER = creative(1, 1)
VIDEO = creative(2, 1, "video", 640, 480)
AUDIO = creative(3, 1, "audio", None, None)
NATIVE = creative(4, 1, "native", None, None)


@pytest.mark.parametrize(
    ("creatives", "slot", "expected"),
    [
        pytest.param((VIDEO,), Slot("1", media="video", sizes=((640, 480),)), "cr-1-2", id="video-size"),
        pytest.param((VIDEO,), Slot("1", media="video", sizes=((1280, 720),)), NoBid.NO_CREATIVE, id="video-other-size"),
        pytest.param((VIDEO,), Slot("1", media="video"), "cr-1-2", id="video-any-size"),
        pytest.param((AUDIO,), Slot("1", media="audio"), "cr-1-3", id="audio"),
        pytest.param((AUDIO,), Slot("1", media="banner", sizes=((300, 250),)), NoBid.NO_CREATIVE, id="audio-not-banner"),
        pytest.param((NATIVE,), Slot("1", media="banner"), NoBid.NO_CREATIVE, id="native-not-banner"),
        pytest.param((BANNER, VIDEO), Slot("1", media="video", sizes=((640, 480),)), "cr-1-2", id="the-fitting-one-of-two"),
        pytest.param((creative(5, 1, w=250, h=300),), Slot("1", media="banner", sizes=((300, 250),)), NoBid.NO_CREATIVE,
                     id="wxh-not-hxw"),
        pytest.param((creative(5, 1, w=160, h=600), creative(6, 1, w=728, h=90)),
                     Slot("1", media="banner", sizes=((300, 250), (728, 90))), "cr-1-6", id="second-format-size"),
    ],
)  # fmt: skip
def test_creative_fit_by_media(creatives: tuple[Any, ...], slot: Slot, expected: str | NoBid) -> None:
    decision = run(campaign(1, creatives=creatives), slot=slot)
    assert (decision.bid.creative.crid if decision.bid else decision.no_bid) == expected


def test_a_dearer_campaign_without_a_fitting_creative_loses_to_one_that_fits() -> None:
    big = campaign(1, cpm=9.0, creatives=(creative(10, 1, w=728, h=90),))
    assert winner(big, campaign(2, cpm=1.0), slot=Slot("1", media="banner", sizes=((300, 250),))) == 2


@pytest.mark.parametrize(
    ("campaigns", "expected"),
    [
        pytest.param([(7, 2.0, None), (3, 2.0, None), (5, 2.0, None)], 3, id="three-way-tie"),
        pytest.param([(5, 3.0, 2.0), (2, 2.0, None)], 2, id="capped-into-a-tie-lower-id-wins"),
        pytest.param([(1, 3.0, 2.0), (2, 2.0, None)], 1, id="capped-into-a-tie-capped-lower-id-wins"),
        pytest.param([(1, 5.0, 1.5), (2, 2.0, None)], 2, id="cap-lets-the-other-win"),
        pytest.param([(1, 2.0, 2.0), (2, 1.99, None)], 1, id="cap-equal-to-price"),
        pytest.param([(4, 2.000001, None), (1, 2.0, None)], 4, id="a-micro-more-wins"),
        pytest.param([(1, 3.0, 0.0)], NoBid.BELOW_FLOOR, id="cap-of-zero-never-bids"),
        pytest.param([(1, 3.0, 0.4)], NoBid.BELOW_FLOOR, id="cap-under-the-floor"),
    ],
)  # fmt: skip
def test_ties_and_max_cpm(campaigns: list[tuple[int, float, float | None]], expected: int | NoBid) -> None:
    specs = [
        campaign(cid, cpm=cpm, max_cpm_micros=None if cap is None else round(cap * 1e6)) for cid, cpm, cap in campaigns
    ]
    assert winner(*specs, slot=Slot("1", 0.5)) == expected


def test_ties_skip_a_campaign_without_room_to_the_next_lowest_id() -> None:
    ties = [campaign(cid, cpm=2.0) for cid in (9, 4, 6)]
    assert winner(*ties, room=lambda c, price, user: c.id != 4) == 6


TRAVEL_CREATIVES = (creative(1, 1, interest="finance"), creative(2, 1))


@pytest.mark.parametrize(
    ("fields", "user", "restricted", "price", "crid", "tier"),
    [
        pytest.param({"strategy": "interest_tiers", "tier_multiplier": 1.0}, PREMIUM, False, 1.20, "cr-1-1", "premium", id="tiers-open"),
        pytest.param({"strategy": "interest_tiers", "tier_multiplier": 1.0}, PREMIUM, True, 0.35, "cr-1-2", "base", id="tiers-restricted"),
        pytest.param({"strategy": "interest_tiers", "tier_multiplier": 1.0}, None, False, 0.35, "cr-1-2", "base", id="tiers-unknown-user"),
        pytest.param({"strategy": "fixed", "fixed_cpm_micros": 1_500_000}, PREMIUM, True, 1.50, "cr-1-2", "base", id="fixed-restricted"),
        pytest.param({"strategy": "interest_tiers", "tier_multiplier": 3.0, "max_cpm_micros": 2_000_000}, PREMIUM, True, 1.05,
                     "cr-1-2", "base", id="tiers-restricted-under-the-cap"),
    ],
)  # fmt: skip
def test_restricted_requests_price_and_serve_as_for_an_unknown_user(
    fields: dict[str, Any], user: Profile | None, restricted: bool, price: float, crid: str, tier: str
) -> None:
    decision = run(campaign(1, creatives=TRAVEL_CREATIVES, **fields), user=user,
                   placement=Placement(restricted=restricted, user_id="u2"))  # fmt: skip
    assert decision.bid is not None
    assert (decision.bid.price, decision.bid.creative.crid, decision.tier.name) == (pytest.approx(price), crid, tier)


def test_restricted_requests_still_bid_for_campaigns_that_target_no_interest() -> None:
    targeted = campaign(1, cpm=5.0, interest_categories=frozenset({"finance"}))
    assert winner(targeted, campaign(2, cpm=1.0), user=PREMIUM) == 1
    assert winner(targeted, campaign(2, cpm=1.0), user=PREMIUM, placement=Placement(restricted=True)) == 2
