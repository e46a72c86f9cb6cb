"""`seed_campaigns`: the house campaign reproduces SPEC §5's bidder, demo campaigns are valid; idempotent."""

from io import StringIO

import pytest
from django.core.management import call_command

from campaigns.house import HOUSE_KEY
from campaigns.models import Campaign, Creative
from campaigns.selectors import campaign_index_load

pytestmark = pytest.mark.django_db


def seed(*args: str) -> str:
    out = StringIO()
    call_command("seed_campaigns", *args, stdout=out)
    return out.getvalue()


def test_seed_is_idempotent() -> None:
    first = seed()
    counts = (Campaign.objects.count(), Creative.objects.count())
    assert "0 already there" in first
    second = seed()
    assert "0 created" in second
    assert (Campaign.objects.count(), Creative.objects.count()) == counts
    assert counts[0] == 5  # house + 4 demo campaigns


def test_seed_keeps_edits_made_since() -> None:
    seed()
    Campaign.objects.filter(key="demo-summit-spring").update(status="paused")
    seed()
    assert Campaign.objects.get(key="demo-summit-spring").status == "paused"


def test_demo_campaigns_have_budgets_pacing_and_caps() -> None:
    seed()
    demos = Campaign.objects.exclude(key=HOUSE_KEY)
    assert 3 <= demos.count() <= 5
    for campaign in demos:
        assert campaign.total_budget_micros and campaign.daily_budget_micros
        assert campaign.frequency_cap and campaign.frequency_window_s
        assert campaign.creatives.exists()
    assert {c.pacing for c in demos} == {"asap", "even"}
    assert {c.strategy for c in demos} == {"fixed", "interest_tiers"}
    index = campaign_index_load(version=None)
    assert len(index.campaigns) == 5
    assert index.creatives_fitting("video")  # the demo has more than banners
