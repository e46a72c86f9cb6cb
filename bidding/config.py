"""The bidder's settings, parsed once from Django settings into plain data for the pricing."""

import json
from dataclasses import dataclass
from typing import Any

from django.conf import settings

from bidding.creatives import DEFAULT_CATALOG, CreativeCatalog, catalog_from_config
from bidding.pricing import DEFAULT_TIERS, Tiers
from pipeline.messages import DEFAULT_CURRENCY


@dataclass(frozen=True)
class BidderSettings:
    tiers: Tiers = DEFAULT_TIERS
    creatives: CreativeCatalog = DEFAULT_CATALOG
    profile_deadline_s: float = 0.05
    currency: str = DEFAULT_CURRENCY


def bidder_settings() -> BidderSettings:
    """The bidder's settings from Django settings; HELIOS_PRICE_TIERS and HELIOS_CREATIVES are
    optional JSON (a string, or the parsed list/dict) and default to the built-in ones."""
    tiers_config = _json_setting("HELIOS_PRICE_TIERS")
    creatives_config = _json_setting("HELIOS_CREATIVES")
    return BidderSettings(
        tiers=Tiers.from_config(tiers_config) if tiers_config is not None else DEFAULT_TIERS,
        creatives=catalog_from_config(creatives_config) if creatives_config is not None else DEFAULT_CATALOG,
        profile_deadline_s=settings.HELIOS_PROFILE_DEADLINE_S,
        currency=settings.HELIOS_BID_CURRENCY,
    )


def _json_setting(name: str) -> Any:
    value = getattr(settings, name)
    if isinstance(value, str):
        value = value.strip()
        if not value:
            return None
        try:
            return json.loads(value)
        except json.JSONDecodeError as exc:
            raise ValueError(f"{name} is not valid JSON: {exc}") from exc
    return value
