"""The built-in `house` campaign as an index snapshot, pure: the bidder's fallback (SPEC §13).

When the campaign index cannot be loaded, or holds no active campaign (a database never seeded),
the bidder decides over this one campaign, so `POST /bid` bids exactly as SPEC §5 says. Its
settings are `campaigns.house`'s (the seed), its creatives the bidder's catalog (with any
HELIOS_CREATIVES overrides): one per interest category, and the default for any other user.
"""

from datetime import UTC, datetime

from bidding.creatives import DEFAULT_KEY, Creative, CreativeCatalog
from campaigns.house import HOUSE_ADVERTISER, HOUSE_CAMPAIGN, HOUSE_KEY
from campaigns.index import CampaignIndex, CampaignSpec, CreativeSpec, build_index

HOUSE_ID = 0  # never a database id (they start at 1)
HOUSE_SIZE = (300, 250)


def _creative(creative: Creative, interest: str | None) -> CreativeSpec:
    return CreativeSpec(
        id=0,
        campaign_id=HOUSE_ID,
        crid=creative.creative_id,
        media="banner",
        w=HOUSE_SIZE[0],
        h=HOUSE_SIZE[1],
        title=creative.title,
        markup="",
        image_url=creative.image_url,
        landing_url=creative.landing_url,
        interest_category=interest,
    )


def house_campaign(catalog: CreativeCatalog) -> CampaignSpec:
    creatives = [_creative(c, category) for category, c in catalog.by_category.items() if category != DEFAULT_KEY]
    creatives.append(_creative(catalog.default, None))
    return CampaignSpec(
        id=HOUSE_ID,
        key=HOUSE_KEY,
        name=HOUSE_CAMPAIGN["name"],
        advertiser_id=0,
        adomain=HOUSE_ADVERTISER["adomain"],
        start_at=None,
        end_at=None,
        total_budget_micros=None,
        daily_budget_micros=None,
        pacing=HOUSE_CAMPAIGN["pacing"],
        strategy=HOUSE_CAMPAIGN["strategy"],
        fixed_cpm_micros=None,
        tier_multiplier=float(HOUSE_CAMPAIGN["tier_multiplier"]),
        max_cpm_micros=None,
        cat=(),
        site_domains_include=frozenset(),
        site_domains_exclude=frozenset(),
        app_bundles_include=frozenset(),
        app_bundles_exclude=frozenset(),
        interest_categories=frozenset(),
        min_interest_score=0.0,
        countries=frozenset(),
        device_types=frozenset(),
        hours_utc=frozenset(),
        frequency_cap=None,
        frequency_window_s=None,
        creatives=tuple(creatives),
    )


def house_index(catalog: CreativeCatalog) -> CampaignIndex:
    return build_index([house_campaign(catalog)], version=None, loaded_at=datetime.fromtimestamp(0, UTC))
