"""Seeding the house and demo campaigns (`manage.py seed_campaigns`), through the services.

Idempotent: an advertiser is found by name, a campaign by its `key`, a creative by its `crid`;
whatever exists already is left as it is (edits made since in the admin stay), the rest is created.
"""

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from django.db import transaction

from campaigns import services
from campaigns.demo import DEMO_CAMPAIGNS
from campaigns.house import HOUSE_ADVERTISER, HOUSE_CAMPAIGN, HOUSE_CREATIVES
from campaigns.models import Advertiser, Campaign, Creative


@dataclass
class SeedResult:
    created: int = 0
    existing: int = 0


def _advertiser(data: Mapping[str, Any]) -> Advertiser:
    found = Advertiser.objects.filter(name=data["name"]).first()
    if found is not None:
        return found
    return services.advertiser_create(data=data)


def seed_campaign(
    *, advertiser: Mapping[str, Any], campaign: Mapping[str, Any], creatives: Iterable[Mapping[str, Any]]
) -> SeedResult:
    """Creates what is missing of one campaign definition; counts campaigns and creatives."""
    result = SeedResult()
    with transaction.atomic():
        owner = _advertiser(advertiser)
        existing = Campaign.objects.filter(key=campaign["key"]).first()
        if existing is None:
            existing = services.campaign_create(data={**campaign, "advertiser": owner})
            result.created += 1
        else:
            result.existing += 1
        for creative in creatives:
            if Creative.objects.filter(crid=creative["crid"]).exists():
                result.existing += 1
            else:
                services.creative_create(data={**creative, "campaign": existing})
                result.created += 1
    return result


def seed_campaigns(*, demo: bool = True) -> SeedResult:
    """The house campaign, and (with `demo`) the demo campaigns."""
    total = SeedResult()
    definitions: list[dict[str, Any]] = [
        {"advertiser": HOUSE_ADVERTISER, "campaign": HOUSE_CAMPAIGN, "creatives": HOUSE_CREATIVES}
    ]
    if demo:
        definitions.extend(DEMO_CAMPAIGNS)
    for definition in definitions:
        result = seed_campaign(**definition)
        total.created += result.created
        total.existing += result.existing
    return total
