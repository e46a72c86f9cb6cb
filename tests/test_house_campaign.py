"""The seeded house campaign is the bidder's SPEC §5 catalog: what `seed_campaigns` stores is what
the bidder serves without a database (both come from `campaigns/house.py`)."""

import pytest

from bidding.creatives import DEFAULT_CATALOG
from campaigns.house import HOUSE_KEY
from campaigns.models import Campaign
from campaigns.seed import seed_campaigns

pytestmark = pytest.mark.django_db


def test_house_has_the_bidders_creatives_and_no_limits() -> None:
    seed_campaigns(demo=False)
    house = Campaign.objects.get(key=HOUSE_KEY)
    assert Campaign.objects.count() == 1
    assert house.status == "active" and house.strategy == "interest_tiers" and house.tier_multiplier == 1
    assert house.total_budget_micros is None and house.daily_budget_micros is None and house.max_cpm_micros is None
    assert house.frequency_cap is None and house.site_domains_include == [] and house.countries == []
    expected = dict(DEFAULT_CATALOG.by_category.items())
    expected[""] = DEFAULT_CATALOG.default
    stored = {c.interest_category: c for c in house.creatives.all()}
    assert set(stored) == set(expected)
    for category, creative in expected.items():
        row = stored[category]
        assert (row.crid, row.title, row.image_url, row.landing_url) == (
            creative.creative_id,
            creative.title,
            creative.image_url,
            creative.landing_url,
        )
        assert (row.media, row.w, row.h, row.status) == ("banner", 300, 250, "active")
