"""The bid decision (SPEC §12, one function for the bidder role and `/openrtb2/bid`), pure.

Per impression, the candidates are the campaigns of the index snapshot whose targeting matches
(placement, dates and UTC hours, country, device type, interests with a minimum score), that have
a creative fitting the impression (media type, wxh or one of its `format` sizes; an impression
that names no media — SPEC §5's `/bid` — takes any creative), that the request's `bcat`/`badv`
do not block, and whose strategy price is at least the floor. Highest CPM wins, ties the lowest
campaign id; the budget/pacing/frequency seam (`Room`) is asked for the winner, then the next.
`/openrtb2/bid` asks its asynchronous ledger instead, down the ranked `Decision.candidates`.

A restricted request (SPEC §16) is decided as for an unknown user: no profile, no interest
targeting, base tier. Campaign money is integer micros of `Pricing.currency` (USD).
"""

import enum
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

import msgspec

from bidding.pricing import DEFAULT_TIERS, PriceTier, Tiers, best_interest
from campaigns.index import CampaignIndex, CampaignSpec, CreativeSpec, domain_suffixes
from pipeline.messages import DEFAULT_CURRENCY, Media, NoBidReason
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
    PRIVATE_AUCTION = 506  # the impression takes deal bids only (`pmp.private_auction`); Helios has no deals

    @property
    def nbr(self) -> int:
        return int(self)

    @property
    def reason(self) -> NoBidReason:
        """The `bid_responses.no_bid_reason` it is recorded as."""
        return _REASONS[self]


_REASONS = {n: NoBidReason(n.name.lower()) for n in NoBid}


class Room(Protocol):
    """The budget/pacing/frequency seam: may `campaign` spend `price_micros` (CPM) on this user?"""

    def __call__(self, campaign: CampaignSpec, price_micros: int, user_id: str | None) -> bool: ...


def always_room(campaign: CampaignSpec, price_micros: int, user_id: str | None) -> bool:
    return True


class Placement(msgspec.Struct, frozen=True):
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


class Slot(msgspec.Struct, frozen=True):
    """One impression: its floor, and what creative fits (no media: any)."""

    imp_id: str
    bidfloor: float = 0.0
    bidfloorcur: str = DEFAULT_CURRENCY
    media: Media | None = None
    sizes: tuple[tuple[int, int], ...] = ()  # wxh, then each `format`; empty: any size
    private_auction: bool = False  # only bids on one of its deals are allowed


@dataclass(frozen=True)
class Pricing:
    tiers: Tiers = DEFAULT_TIERS
    currency: str = DEFAULT_CURRENCY  # of campaign money and of every bid
    rates: Mapping[str, float] = field(default_factory=dict)  # 1 unit of a floor currency in `currency`


class Bid(msgspec.Struct, frozen=True):
    campaign: CampaignSpec
    creative: CreativeSpec
    price_micros: int  # CPM

    @property
    def price(self) -> float:
        return self.price_micros / MICROS


class Decision(msgspec.Struct, frozen=True):
    """A bid, or why not; plus the user's winning interest and the tier its score reached.

    `candidates`: every priced candidate, best first; `bid` is the first of them `room` accepted.
    A caller with an asynchronous ledger (rtb/) reserves down this list itself."""

    bid: Bid | None
    no_bid: NoBid | None
    interest: Interest | None
    tier: PriceTier
    candidates: tuple[Bid, ...] = ()


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
    its subdomains, in any case. `bapp` blocks advertised apps: campaigns advertise none yet, so it never does."""
    if placement.bcat and any(c in placement.bcat or c.split("-", 1)[0] in placement.bcat for c in campaign.cat):
        return True
    if not placement.badv:
        return False
    return not {d.lower().rstrip(".") for d in placement.badv}.isdisjoint(domain_suffixes(campaign.adomain))


def choose_creative(creatives: Sequence[CreativeSpec], interest: Interest | None) -> CreativeSpec | None:
    """The first creative for the winning interest, else the first for any user."""
    wanted = interest.category if interest is not None else None
    for_anyone: CreativeSpec | None = None
    for creative in creatives:
        category = creative.interest_category
        if category is None:
            if for_anyone is None:
                for_anyone = creative
        elif category == wanted:
            return creative
    return for_anyone


def price_micros(campaign: CampaignSpec, tier: PriceTier) -> int:
    """The strategy's CPM in micros, capped by the max CPM (0: no price)."""
    if campaign.strategy == "fixed":
        price = campaign.fixed_cpm_micros or 0
    else:
        price = round(tier.price * MICROS * campaign.tier_multiplier)
    if campaign.max_cpm_micros is not None:
        price = min(price, campaign.max_cpm_micros)
    return max(price, 0)


class _Candidate(msgspec.Struct, frozen=True):
    """A campaign that targets the request, with what does not depend on the impression."""

    campaign: CampaignSpec
    blocked: bool
    price_micros: int
    any_slot_creative: CreativeSpec | None  # its creative for an impression that names no media


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
    return decide_request(index, placement, (slot,), profile=profile, now=now, pricing=pricing, room=room)[0]


def decide_request(
    index: CampaignIndex,
    placement: Placement,
    slots: Sequence[Slot],
    *,
    profile: Profile | None,
    now: datetime,
    pricing: Pricing,
    room: Room = always_room,
    placed: Sequence[CampaignSpec] | None = None,
) -> list[Decision]:
    """`decide` for each impression of one request; what does not depend on the impression
    (candidates, targeting, blocks, prices) is worked out once. `placed`: the index's
    `placement_candidates` for this placement, when the caller already has them."""
    if placement.restricted:
        profile = None
    interest = best_interest(profile.interests) if profile is not None else None
    tier = pricing.tiers.for_score(interest.score if interest is not None else None)
    currency_ok = not placement.cur or pricing.currency.upper() in {c.upper() for c in placement.cur}
    if placed is None:
        placed = index.placement_candidates(site_domain=placement.site_domain, app_bundle=placement.app_bundle)
    candidates = [
        _Candidate(c, blocked(c, placement), price_micros(c, tier), choose_creative(c.creatives, interest))
        for c in placed
        if targets(c, placement, profile, now)
    ]
    user_id = None if placement.restricted else placement.user_id
    decisions: list[Decision] = []
    for slot in slots:
        if slot.private_auction:
            decisions.append(Decision(None, NoBid.PRIVATE_AUCTION, interest, tier))
            continue
        floor = floor_in(slot, pricing) if currency_ok else None
        if floor is None:
            decisions.append(Decision(None, NoBid.CURRENCY, interest, tier))
            continue
        bid, reason, priced = _best(candidates, slot, floor, interest, room, user_id)
        decisions.append(Decision(bid, reason, interest, tier, priced))
    return decisions


_STAGES = (NoBid.NO_CAMPAIGN, NoBid.NO_CREATIVE, NoBid.BLOCKED, NoBid.BELOW_FLOOR)


def _best(
    candidates: list[_Candidate], slot: Slot, floor: float, interest: Interest | None, room: Room, user_id: str | None
) -> tuple[Bid | None, NoBid | None, tuple[Bid, ...]]:
    stage = 0  # how far the furthest candidate got, an index of _STAGES
    priced: list[Bid] = []
    for candidate in candidates:
        stage = max(stage, 1)
        if slot.media is None:
            creative = candidate.any_slot_creative
        else:
            creative = choose_creative([c for c in candidate.campaign.creatives if fits(c, slot)], interest)
        if creative is None:
            continue
        stage = max(stage, 2)
        if candidate.blocked:
            continue
        stage = 3
        price = candidate.price_micros
        if price > 0 and price / MICROS >= floor:  # `>=` is False for a NaN floor
            priced.append(Bid(candidate.campaign, creative, price))
    if len(priced) > 1:
        priced.sort(key=lambda b: (-b.price_micros, b.campaign.id))
    ranked = tuple(priced)
    for bid in ranked:
        if room(bid.campaign, bid.price_micros, user_id):
            return bid, None, ranked
    return None, NoBid.NO_ROOM if priced else _STAGES[stage], ranked
