"""Bid pricing (SPEC §5), pure: no I/O, no Django, dataclasses in and out.

The user's highest-scoring interest (ties: the first listed) picks a price tier by its score; the
bid is that tier's price unless the impression's floor is above it or is not in the bid currency.
The default tiers:

    s > 0.9          1.20  premium
    0.7 <= s <= 0.9  0.85  standard
    0.5 <= s < 0.7   0.60  mid
    otherwise        0.35  base   (no interests, unknown user, no user, lookup failed)
"""

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeGuard

from bidding.creatives import DEFAULT_CATALOG, CreativeCatalog
from pipeline.messages import DEFAULT_CURRENCY, AdCreative, NoBidReason
from profiles.types import Interest, Profile


@dataclass(frozen=True)
class PriceTier:
    """Scores at or above `min_score` (strictly above when not `inclusive`) bid `price`."""

    name: str
    min_score: float
    price: float
    inclusive: bool = True

    def admits(self, score: float) -> bool:
        return score >= self.min_score if self.inclusive else score > self.min_score


@dataclass(frozen=True)
class Tiers:
    """Price tiers, plus the base price for everything no tier admits.

    A score gets the highest tier that admits it: tiers are ordered by `min_score`, highest first,
    and at an equal `min_score` the exclusive tier comes first (it admits less).
    """

    tiers: tuple[PriceTier, ...]
    base_name: str = "base"
    base_price: float = 0.35
    base: PriceTier = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        ordered = tuple(sorted(self.tiers, key=lambda t: (-t.min_score, t.inclusive)))
        names = [t.name for t in ordered] + [self.base_name]
        if len(set(names)) != len(names) or not all(names):
            raise ValueError(f"tier names must be non-empty and unique, got {names}")
        for tier in ordered:
            if not math.isfinite(tier.min_score):
                raise ValueError(f"tier {tier.name!r}: min_score must be a finite number")
        for name, price in [(t.name, t.price) for t in ordered] + [(self.base_name, self.base_price)]:
            # A price of 0 would be indistinguishable from "no bid".
            if not (math.isfinite(price) and price > 0):
                raise ValueError(f"tier {name!r}: price must be a positive number, got {price!r}")
        object.__setattr__(self, "tiers", ordered)
        object.__setattr__(self, "base", PriceTier(self.base_name, -math.inf, self.base_price))

    def for_score(self, score: float | None) -> PriceTier:
        if score is not None:
            for tier in self.tiers:
                if tier.admits(score):
                    return tier
        return self.base

    @property
    def prices(self) -> frozenset[float]:
        return frozenset([t.price for t in self.tiers] + [self.base_price])

    @classmethod
    def from_config(cls, entries: Sequence[Mapping[str, Any]]) -> "Tiers":
        """Tiers from a list of `{"name", "min_score", "price", "inclusive"?}` objects plus exactly
        one `{"name", "price"}` without `min_score`: the base. Raises ValueError on anything else."""
        if isinstance(entries, str | bytes) or not isinstance(entries, Sequence):
            raise ValueError("price tiers must be a list of objects")
        tiers: list[PriceTier] = []
        base: tuple[str, float] | None = None
        for entry in entries:
            if not isinstance(entry, Mapping):
                raise ValueError("each price tier must be an object")
            unknown = set(entry) - {"name", "min_score", "price", "inclusive"}
            if unknown:
                raise ValueError(f"price tier has unknown fields {sorted(unknown)}")
            name, price = entry.get("name"), entry.get("price")
            if not isinstance(name, str) or not _is_number(price):
                raise ValueError(f"price tier needs a string 'name' and a number 'price': {dict(entry)}")
            if entry.get("min_score") is None:
                if base is not None:
                    raise ValueError("exactly one price tier (the base) may omit min_score")
                base = (name, float(price))
                continue
            min_score, inclusive = entry["min_score"], entry.get("inclusive", True)
            if not _is_number(min_score) or not isinstance(inclusive, bool):
                raise ValueError(f"price tier {name!r}: min_score must be a number, inclusive a bool")
            tiers.append(PriceTier(name, float(min_score), float(price), inclusive))
        if base is None:
            raise ValueError("price tiers need a base tier: one entry without min_score")
        return cls(tuple(tiers), base_name=base[0], base_price=base[1])


def _is_number(value: object) -> TypeGuard[int | float]:
    return isinstance(value, int | float) and not isinstance(value, bool)


DEFAULT_TIERS = Tiers(
    (
        PriceTier("premium", 0.9, 1.20, inclusive=False),
        PriceTier("standard", 0.7, 0.85),
        PriceTier("mid", 0.5, 0.60),
    ),
    base_name="base",
    base_price=0.35,
)


@dataclass(frozen=True)
class BidDecision:
    """What the bidder does with one impression.

    `tier` is the tier the user's score reached even when there is no bid; `creative` is the bid
    response's creative as it goes on the topic; it is None and `bid_price` 0 when there is no bid
    (`no_bid_reason` says why).
    """

    bid_price: float
    tier: str
    enriched: bool
    winning_interest: str | None
    interest_score: float | None
    user_interests: list[str]
    no_bid_reason: NoBidReason | None
    creative: AdCreative | None
    # SPEC §12: the campaign the decision chose (None when no bid), and the OpenRTB no-bid code.
    campaign_id: int | None = None
    nbr: int | None = None

    @property
    def bids(self) -> bool:
        return self.no_bid_reason is None


def best_interest(interests: Iterable[Interest]) -> Interest | None:
    """The highest-scoring interest, the first listed on a tie; scores that are not finite
    numbers (NaN, infinities) are ignored."""
    best: Interest | None = None
    for interest in interests:
        if math.isfinite(interest.score) and (best is None or interest.score > best.score):
            best = interest
    return best


def price_bid(
    *,
    profile: Profile | None,
    floor: float,
    floor_currency: str,
    tiers: Tiers = DEFAULT_TIERS,
    creatives: CreativeCatalog = DEFAULT_CATALOG,
    currency: str = DEFAULT_CURRENCY,
) -> BidDecision:
    """Prices one impression for `profile` (None: no user, unknown user or lookup failed).

    A price equal to the floor bids. The floor currency is compared case-insensitively.
    """
    interest = best_interest(profile.interests) if profile is not None else None
    tier = tiers.for_score(interest.score if interest is not None else None)
    reason: NoBidReason | None = None
    if floor_currency.strip().upper() != currency.upper():
        reason = NoBidReason.CURRENCY
    elif not tier.price >= floor:  # `not >=` so a NaN floor does not bid
        reason = NoBidReason.BELOW_FLOOR
    winning = interest.category if interest is not None else None
    return BidDecision(
        bid_price=tier.price if reason is None else 0.0,
        tier=tier.name,
        enriched=profile is not None,
        winning_interest=winning,
        interest_score=interest.score if interest is not None else None,
        user_interests=[i.category for i in profile.interests] if profile is not None else [],
        no_bid_reason=reason,
        creative=creatives.for_interest(winning).ad(tier.name) if reason is None else None,
    )
