"""The ad creatives the bidder serves (SPEC §5), pure: no I/O, no Django.

One creative per interest category, plus a default for bids without a winning interest (unknown
user, no interests, lookup failed) or with a category the catalog does not know. The built-in
catalog is static: its URLs are on the reserved `.example` domain, nothing is fetched.
`HELIOS_CREATIVES` (see `catalog_from_config`) replaces entries of it.
"""

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

from campaigns.house import HOUSE_CREATIVES
from pipeline.messages import AdCreative
from profiles.types import CATEGORIES

CREATIVE_FIELDS = ("creative_id", "title", "image_url", "landing_url")
DEFAULT_KEY = "default"


@dataclass(frozen=True)
class Creative:
    creative_id: str
    title: str
    image_url: str
    landing_url: str

    def ad(self, tier: str) -> AdCreative:
        """This creative as a bid response carries it, served at price tier `tier`."""
        return AdCreative(
            creative_id=self.creative_id,
            title=self.title,
            image_url=self.image_url,
            landing_url=self.landing_url,
            bid_tier=tier,
        )


@dataclass(frozen=True)
class CreativeCatalog:
    by_category: Mapping[str, Creative]
    default: Creative

    def for_interest(self, category: str | None) -> Creative:
        """The creative for a winning interest; the default when there is none or it is unknown."""
        if category is None:
            return self.default
        return self.by_category.get(category, self.default)


def _from_house(entry: Mapping[str, Any]) -> Creative:
    return Creative(
        creative_id=entry["crid"], title=entry["title"], image_url=entry["image_url"], landing_url=entry["landing_url"]
    )


# The built-in creatives are the house campaign's (campaigns/house.py: one per category, and the
# default with no category), so the seeded house and the bidder's fallback cannot drift apart.
_BUILT_IN = {entry["interest_category"]: _from_house(entry) for entry in HOUSE_CREATIVES}
assert set(_BUILT_IN) == {*CATEGORIES, ""}, "one built-in creative per category, and a default"

DEFAULT_CREATIVE = _BUILT_IN[""]

DEFAULT_CATALOG = CreativeCatalog(
    by_category=MappingProxyType({category: _BUILT_IN[category] for category in CATEGORIES}),
    default=DEFAULT_CREATIVE,
)


def catalog_from_config(config: Mapping[str, Any], base: CreativeCatalog = DEFAULT_CATALOG) -> CreativeCatalog:
    """A catalog with entries of `base` replaced (or categories added) by `config`.

    `config` maps a category, or "default", to an object with every field of `CREATIVE_FIELDS` as
    a non-empty string, e.g. `{"sports": {"creative_id": "cr-9", "title": "...", "image_url":
    "https://...", "landing_url": "https://..."}}`. Raises ValueError on anything else.
    """
    if not isinstance(config, Mapping):
        raise ValueError("creatives config must be an object of category -> creative")
    by_category = dict(base.by_category)
    default = base.default
    for key, entry in config.items():
        creative = _parse_creative(str(key), entry)
        if key == DEFAULT_KEY:
            default = creative
        else:
            by_category[str(key)] = creative
    return CreativeCatalog(by_category=MappingProxyType(by_category), default=default)


def _parse_creative(key: str, entry: Any) -> Creative:
    if not isinstance(entry, Mapping):
        raise ValueError(f"creative {key!r} must be an object")
    unknown = set(entry) - set(CREATIVE_FIELDS)
    if unknown:
        raise ValueError(f"creative {key!r} has unknown fields {sorted(unknown)}")
    values = {}
    for name in CREATIVE_FIELDS:
        value = entry.get(name)
        if not isinstance(value, str) or not value:
            raise ValueError(f"creative {key!r} needs a non-empty string {name!r}")
        values[name] = value
    return Creative(**values)
