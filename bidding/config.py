"""The bidder's settings, parsed once from Django settings into plain data for the pricing."""

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from django.conf import settings

from bidding.creatives import DEFAULT_CATALOG, CreativeCatalog, catalog_from_config
from bidding.decision import Pricing
from bidding.house import house_index
from bidding.pricing import DEFAULT_TIERS, Tiers
from campaigns.index import CampaignIndex
from pipeline.messages import DEFAULT_CURRENCY


@dataclass(frozen=True)
class BidderSettings:
    tiers: Tiers = DEFAULT_TIERS
    creatives: CreativeCatalog = DEFAULT_CATALOG
    profile_deadline_s: float = 0.05
    currency: str = DEFAULT_CURRENCY
    rates: Mapping[str, float] = field(default_factory=dict)  # HELIOS_CURRENCY_RATES

    @cached_property
    def pricing(self) -> Pricing:
        return Pricing(tiers=self.tiers, currency=self.currency, rates=self.rates)

    @cached_property
    def house(self) -> CampaignIndex:
        """The built-in house campaign, the fallback index (bidding/house.py)."""
        return house_index(self.creatives)


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
        rates=currency_rates(_json_setting("HELIOS_CURRENCY_RATES")),
    )


def currency_rates(config: Any) -> dict[str, float]:
    """`{"EUR": 1.08}`: one unit of a floor currency in the bid currency. None: no conversion."""
    if config is None:
        return {}
    if not isinstance(config, Mapping):
        raise ValueError("HELIOS_CURRENCY_RATES must be an object of currency code -> rate")
    rates: dict[str, float] = {}
    for code, rate in config.items():
        ok = isinstance(rate, int | float) and not isinstance(rate, bool) and math.isfinite(rate) and rate > 0
        if not (isinstance(code, str) and len(code.strip()) == 3 and ok):
            raise ValueError(f"HELIOS_CURRENCY_RATES: {code!r} -> {rate!r} is not a currency code and a positive rate")
        rates[code.strip().upper()] = float(rate)
    return rates


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
