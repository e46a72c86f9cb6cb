"""The bid decision (SPEC §12, one function for the bidder role and `/openrtb2/bid`), pure.

Per impression, the candidates are the campaigns of the index snapshot whose targeting matches
(placement, dates and UTC hours, country, device type, interests with a minimum score), that have
a creative fitting the impression (media type, wxh or one of its `format` sizes; an impression
that names no media — SPEC §5's `/bid` — takes any creative), that the request's `bcat`/`badv`
do not block, and whose strategy price is at least the floor. Highest CPM wins, ties the lowest
campaign id; the budget/pacing/frequency seam (`Room`) is asked for the winner, then the next.

A restricted request (SPEC §16) is decided as for an unknown user: no profile, no interest
targeting, base tier. Campaign money is integer micros of `Pricing.currency` (USD).
"""

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

from bidding.pricing import DEFAULT_TIERS, PriceTier, Tiers, best_interest
from campaigns.index import CampaignIndex, CampaignSpec, CreativeSpec, domain_suffixes
from pipeline.messages import DEFAULT_CURRENCY, NoBidReason
from profiles.types import Interest, Profile

MICROS = 1_000_000


class NoBid(enum.IntEnum):
    """Why an impression gets no bid, by how far its best candidate got (the later, the higher).

    The value is the OpenRTB `nbr` code; Helios's own reasons use the vendor range (500+).
    """

    NO_CAMPAIGN = 500  # no campaign's targeting matches
    NO_CREATIVE = 501  # none has a creative fitting the impression
    BLOCKED = 502  # every fitting one is blocked by bcat/badv/bapp
    CURRENCY = 503  # the floor's currency cannot be converted, or `cur` excludes the bid currency
    BELOW_FLOOR = 504  # every price is under the floor
    NO_ROOM = 505  # budget, pacing or frequency cap (SPEC §14)

    @property
    def nbr(self) -> int:
        return int(self)

    @property
    def reason(self) -> NoBidReason:
        """The `bid_responses.no_bid_reason` it is recorded as."""
        return NoBidReason(self.name.lower())


class Room(Protocol):
    """The budget/pacing/frequency seam: may `campaign` spend `price_micros` (CPM) on this user?"""

    def __call__(self, campaign: CampaignSpec, price_micros: int, user_id: str | None) -> bool: ...


def always_room(campaign: CampaignSpec, price_micros: int, user_id: str | None) -> bool:
    return True


@dataclass(frozen=True, slots=True)
class Placement:
    """The request-level facts the decision reads (all optional; empty block lists block nothing)."""

    site_domain: str | None = None
    app_bundle: str | None = None
    country: str | None = None  # device.geo.country, ISO 3166-1 alpha-3
    device_type: int | None = None
    bcat: frozenset[str] = frozenset()
    badv: frozenset[str] = frozenset()
    bapp: frozenset[str] = frozenset()
    cur: tuple[str, ...] = ()  # allowed bid currencies; empty: any
    restricted: bool = False  # SPEC §16: contextual only
    user_id: str | None = None


@dataclass(frozen=True, slots=True)
class Slot:
    """One impression: its floor, and what creative fits (no media: any)."""

    imp_id: str
    bidfloor: float = 0.0
    bidfloorcur: str = DEFAULT_CURRENCY
    media: str | None = None
    sizes: tuple[tuple[int, int], ...] = ()  # wxh, then each `format`; empty: any size


@dataclass(frozen=True)
class Pricing:
    tiers: Tiers = DEFAULT_TIERS
    currency: str = DEFAULT_CURRENCY  # of campaign money and of every bid
    rates: Mapping[str, float] = field(default_factory=dict)  # 1 unit of a floor currency in `currency`


@dataclass(frozen=True, slots=True)
class Bid:
    campaign: CampaignSpec
    creative: CreativeSpec
    price_micros: int  # CPM

    @property
    def price(self) -> float:
        return self.price_micros / MICROS


@dataclass(frozen=True, slots=True)
class Decision:
    """A bid, or why not; plus the user's winning interest and the tier its score reached."""

    bid: Bid | None
    no_bid: NoBid | None
    interest: Interest | None
    tier: PriceTier


def floor_in(slot: Slot, pricing: Pricing) -> float | None:
    """The floor in the bid currency; None when its currency has no configured rate."""
    currency = slot.bidfloorcur.strip().upper()
    if currency == pricing.currency.upper():
        return slot.bidfloor
    rate = pricing.rates.get(currency)
    return None if rate is None else slot.bidfloor * rate


def targets(campaign: CampaignSpec, placement: Placement, profile: Profile | None, now: datetime) -> bool:
    """Dates, hours, country, device type and interests (placement lists: `placement_candidates`)."""
    if not campaign.runs_at(now):
        return False
    if campaign.countries and placement.country not in campaign.countries:
        return False
    if campaign.device_types and placement.device_type not in campaign.device_types:
        return False
    if campaign.interest_categories:
        if profile is None:
            return False
        wanted, floor = campaign.interest_categories, campaign.min_interest_score
        return any(i.category in wanted and i.score >= floor for i in profile.interests)
    return True


def fits(creative: CreativeSpec, slot: Slot) -> bool:
    if slot.media is None:
        return True
    if creative.media != slot.media:
        return False
    if not slot.sizes or creative.w is None or creative.h is None:
        return True  # a flexible creative (native, audio) or an impression of any size
    return (creative.w, creative.h) in slot.sizes


def blocked(campaign: CampaignSpec, placement: Placement) -> bool:
    """`bcat` blocks a category and its subcategories (IAB17 blocks IAB17-1); `badv` an adomain and
    its subdomains. `bapp` blocks advertised apps: campaigns advertise none yet, so it never does."""
    if placement.bcat and any(c in placement.bcat or c.split("-", 1)[0] in placement.bcat for c in campaign.cat):
        return True
    return bool(placement.badv) and bool(placement.badv.intersection(domain_suffixes(campaign.adomain)))


def choose_creative(creatives: list[CreativeSpec], interest: Interest | None) -> CreativeSpec | None:
    """The first creative for the winning interest, else the first for any user."""
    if interest is not None:
        for creative in creatives:
            if creative.interest_category == interest.category:
                return creative
    return next((c for c in creatives if c.interest_category is None), None)


def price_micros(campaign: CampaignSpec, tier: PriceTier) -> int:
    """The strategy's CPM in micros, capped by the max CPM (0: no price)."""
    if campaign.strategy == "fixed":
        price = campaign.fixed_cpm_micros or 0
    else:
        price = round(tier.price * MICROS * campaign.tier_multiplier)
    if campaign.max_cpm_micros is not None:
        price = min(price, campaign.max_cpm_micros)
    return max(price, 0)


def decide(
    index: CampaignIndex,
    placement: Placement,
    slot: Slot,
    *,
    profile: Profile | None,
    now: datetime,
    pricing: Pricing,
    room: Room = always_room,
) -> Decision:
    """The bid for one impression (`now`: an aware datetime), or the furthest no-bid reason."""
    if placement.restricted:
        profile = None
    interest = best_interest(profile.interests) if profile is not None else None
    tier = pricing.tiers.for_score(interest.score if interest is not None else None)
    floor = floor_in(slot, pricing)
    if floor is None or (placement.cur and pricing.currency.upper() not in {c.upper() for c in placement.cur}):
        return Decision(None, NoBid.CURRENCY, interest, tier)
    reached = NoBid.NO_CAMPAIGN
    priced: list[Bid] = []
    for campaign in index.placement_candidates(site_domain=placement.site_domain, app_bundle=placement.app_bundle):
        if not targets(campaign, placement, profile, now):
            continue
        reached = max(reached, NoBid.NO_CREATIVE)
        creative = choose_creative([c for c in campaign.creatives if fits(c, slot)], interest)
        if creative is None:
            continue
        reached = max(reached, NoBid.BLOCKED)
        if blocked(campaign, placement):
            continue
        reached = max(reached, NoBid.BELOW_FLOOR)
        price = price_micros(campaign, tier)
        if price > 0 and price / MICROS >= floor:  # `>=` is False for a NaN floor
            priced.append(Bid(campaign, creative, price))
    priced.sort(key=lambda b: (-b.price_micros, b.campaign.id))
    for bid in priced:
        if room(bid.campaign, bid.price_micros, None if placement.restricted else placement.user_id):
            return Decision(bid, None, interest, tier)
    return Decision(None, NoBid.NO_ROOM if priced else reached, interest, tier)
