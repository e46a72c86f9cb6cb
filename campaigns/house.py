"""The built-in `house` campaign (SPEC §13 seed compatibility), as data.

It reproduces what the bidder has always done for `POST /bid` (SPEC §5): the interest tiers as
CPM (multiplier 1), one 300x250 creative per interest category plus a default, no targeting, no
budget limit. These creatives are also the bidder's built-in catalog (`bidding/creatives.py` reads
them), the one `POST /bid` serves when no campaign was ever seeded.
"""

from typing import Any

HOUSE_KEY = "house"
HOUSE_ADVERTISER = {"name": "Helios House", "adomain": "helios.example"}

_CDN = "https://cdn.helios.example/creatives"
_LANDING = "https://ads.helios.example/landing"

_TITLES = {
    "sports": "Game Day Gear: Up to 40% Off Team Jerseys",
    "technology": "The New UltraBook 14: All-Day Battery, Half the Weight",
    "travel": "Last-Minute Getaways: Flights + Hotel from $299",
    "food": "Fresh Meal Kits Delivered: Your First Box Free",
    "finance": "Zero-Fee Investing: Open an Account in 5 Minutes",
    "gaming": "Pre-Order Starfall Legends and Get the Bonus Pack",
    "music": "3 Months of Ad-Free Music Streaming on Us",
    "automotive": "Test Drive the All-Electric Volt Crossover",
    "fitness": "Smart Fitness Tracker: Train Smarter, Sleep Better",
    "fashion": "The Autumn Collection Is Here: Free Returns",
}


def _creative(crid: str, title: str, image: str, landing: str, interest: str) -> dict[str, Any]:
    return {
        "crid": crid,
        "title": title,
        "media": "banner",
        "w": 300,
        "h": 250,
        "image_url": f"{_CDN}/{image}-300x250.png",
        "landing_url": f"{_LANDING}/{landing}?utm_source=helios&utm_medium=display",
        "interest_category": interest,
    }


HOUSE_CAMPAIGN: dict[str, Any] = {
    "key": HOUSE_KEY,
    "name": "House (built-in: SPEC §5 tiers and creatives)",
    "status": "active",
    "pacing": "asap",
    "strategy": "interest_tiers",
    "tier_multiplier": 1,
    # no budgets, no max CPM, no targeting: it bids on everything, as the bidder always has
}

HOUSE_CREATIVES: list[dict[str, Any]] = [
    *(_creative(f"cr-{cat}-001", title, cat, cat, cat) for cat, title in _TITLES.items()),
    _creative("cr-default-001", "Discover Deals Picked for You", "default", "deals", ""),
]
