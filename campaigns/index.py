"""The campaign index: an immutable snapshot of the active campaigns and creatives, as plain data.

Pure: no models, no I/O. `campaigns.selectors.campaign_index_load` fills it from the database and
`campaigns.refresher` swaps a new one in on change; the bid decision only reads it. Indexed for
the checks that cut the candidate list first:
- placement: campaigns with no include list run everywhere; the others are found by the request's
  site domain (and its parent domains: `news.com` covers `www.news.com`) or app bundle.
  Exclude lists always apply.
- creative fit: creatives by (media, w, h), and by media for the flexible kinds.
Everything else (dates, hours, geo, device, interests, blocks, floors, budgets) is checked per
candidate by the decision, from the fields below.
"""

from collections import defaultdict
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from types import MappingProxyType
from typing import TypeVar

import msgspec

MAX_PLACEMENTS = 50_000  # memoised placements per snapshot; forgotten all at once past this
K = TypeVar("K")
V = TypeVar("V")


class CreativeSpec(msgspec.Struct, frozen=True):
    id: int
    campaign_id: int
    crid: str
    media: str  # banner | video | audio | native
    w: int | None
    h: int | None
    title: str
    markup: str
    image_url: str
    landing_url: str
    interest_category: str | None  # served when the user's winning interest is this; None: any


class CampaignSpec(msgspec.Struct, frozen=True):
    id: int
    key: str | None
    name: str
    advertiser_id: int
    adomain: str
    start_at: datetime | None
    end_at: datetime | None
    total_budget_micros: int | None  # None: no limit
    daily_budget_micros: int | None
    pacing: str  # asap | even
    strategy: str  # fixed | interest_tiers
    fixed_cpm_micros: int | None
    tier_multiplier: float
    max_cpm_micros: int | None
    cat: tuple[str, ...]
    site_domains_include: frozenset[str]
    site_domains_exclude: frozenset[str]
    app_bundles_include: frozenset[str]
    app_bundles_exclude: frozenset[str]
    interest_categories: frozenset[str]
    min_interest_score: float
    countries: frozenset[str]
    device_types: frozenset[int]
    hours_utc: frozenset[int]
    frequency_cap: int | None
    frequency_window_s: int | None
    creatives: tuple[CreativeSpec, ...]

    @property
    def runs_everywhere(self) -> bool:
        return not (self.site_domains_include or self.app_bundles_include)

    def runs_at(self, now: datetime) -> bool:
        """Within its dates and (when it has any) its UTC hours at `now` (an aware datetime, any zone)."""
        if (self.start_at is not None and now < self.start_at) or (self.end_at is not None and now >= self.end_at):
            return False
        return not self.hours_utc or now.astimezone(UTC).hour in self.hours_utc


def domain_suffixes(domain: str) -> list[str]:
    """`a.news.com` -> ["a.news.com", "news.com", "com"]."""
    parts = domain.lower().rstrip(".").split(".")
    return [".".join(parts[i:]) for i in range(len(parts))]


class CampaignIndex(msgspec.Struct, frozen=True):
    version: int | None  # the change counter it was loaded at
    loaded_at: datetime
    campaigns: tuple[CampaignSpec, ...]  # by id
    by_id: Mapping[int, CampaignSpec]
    by_key: Mapping[str, CampaignSpec]
    everywhere: tuple[CampaignSpec, ...]  # no include list
    by_site: Mapping[str, tuple[CampaignSpec, ...]]
    by_app: Mapping[str, tuple[CampaignSpec, ...]]
    by_size: Mapping[tuple[str, int, int], tuple[CreativeSpec, ...]]
    by_media: Mapping[str, tuple[CreativeSpec, ...]]
    # placement -> its candidates, filled as placements are seen (a snapshot never changes)
    placements: dict[tuple[str | None, str | None], tuple[CampaignSpec, ...]] = msgspec.field(default_factory=dict)

    def placement_candidates(
        self, *, site_domain: str | None = None, app_bundle: str | None = None
    ) -> tuple[CampaignSpec, ...]:
        """Campaigns whose site/app include and exclude lists admit this placement, by id."""
        key = (site_domain, app_bundle)
        found = self.placements.get(key)
        if found is None:
            if len(self.placements) >= MAX_PLACEMENTS:
                self.placements.clear()
            found = self.placements[key] = tuple(self._placement_candidates(site_domain, app_bundle))
        return found

    def _placement_candidates(self, site_domain: str | None, app_bundle: str | None) -> list[CampaignSpec]:
        found: dict[int, CampaignSpec] = {c.id: c for c in self.everywhere}
        suffixes = domain_suffixes(site_domain) if site_domain else []
        for suffix in suffixes:
            found.update((c.id, c) for c in self.by_site.get(suffix, ()))
        if app_bundle:
            found.update((c.id, c) for c in self.by_app.get(app_bundle, ()))
        excluded_sites = set(suffixes)
        return [
            c
            for _, c in sorted(found.items())
            if not (excluded_sites & c.site_domains_exclude)
            and not (app_bundle and app_bundle in c.app_bundles_exclude)
        ]

    def creatives_fitting(self, media: str, sizes: Iterable[tuple[int, int]] = ()) -> tuple[CreativeSpec, ...]:
        """Creatives of `media` in one of `sizes` (any size of that media when `sizes` is empty)."""
        wanted = list(sizes)
        if not wanted:
            return self.by_media.get(media, ())
        fitting: list[CreativeSpec] = []
        for w, h in wanted:
            fitting.extend(self.by_size.get((media, w, h), ()))
        return tuple(fitting)


def build_index(campaigns: Iterable[CampaignSpec], *, version: int | None, loaded_at: datetime) -> CampaignIndex:
    ordered = tuple(sorted(campaigns, key=lambda c: c.id))
    by_site: defaultdict[str, list[CampaignSpec]] = defaultdict(list)
    by_app: defaultdict[str, list[CampaignSpec]] = defaultdict(list)
    by_size: defaultdict[tuple[str, int, int], list[CreativeSpec]] = defaultdict(list)
    by_media: defaultdict[str, list[CreativeSpec]] = defaultdict(list)
    for campaign in ordered:
        for domain in campaign.site_domains_include:
            by_site[domain].append(campaign)
        for bundle in campaign.app_bundles_include:
            by_app[bundle].append(campaign)
        for creative in campaign.creatives:
            by_media[creative.media].append(creative)
            if creative.w is not None and creative.h is not None:
                by_size[(creative.media, creative.w, creative.h)].append(creative)
    return CampaignIndex(
        version=version,
        loaded_at=loaded_at,
        campaigns=ordered,
        by_id=MappingProxyType({c.id: c for c in ordered}),
        by_key=MappingProxyType({c.key: c for c in ordered if c.key}),
        everywhere=tuple(c for c in ordered if c.runs_everywhere),
        by_site=_frozen(by_site),
        by_app=_frozen(by_app),
        by_size=_frozen(by_size),
        by_media=_frozen(by_media),
    )


def _frozen(groups: Mapping[K, list[V]]) -> Mapping[K, tuple[V, ...]]:
    return MappingProxyType({key: tuple(values) for key, values in groups.items()})
