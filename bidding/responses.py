"""From a decided impression to its `bid_responses` message."""

from bidding.decision import Decision
from bidding.pricing import BidDecision
from campaigns.index import CreativeSpec
from pipeline.messages import AdCreative, BidRequest, BidResponse, Imp, money
from profiles.types import Profile


def bid_response(request: BidRequest, imp: Imp, decision: BidDecision, *, priced_at: str, currency: str) -> BidResponse:
    return BidResponse(
        bid_request_id=request.request_id,
        request_digest=request.request_digest,
        imp_id=imp.imp_id,
        user_id=request.user_id,
        received_at=request.received_at,
        site_domain=request.site_domain,
        bid_price=money(decision.bid_price),
        bid_floor=money(imp.bidfloor),
        currency=currency,
        timestamp=priced_at,
        enriched=decision.enriched,
        winning_interest=decision.winning_interest,
        interest_score=decision.interest_score,
        user_interests=decision.user_interests,
        no_bid_reason=decision.no_bid_reason,
        ad_creative=decision.creative,
        source=request.source,
        campaign_id=decision.campaign_id,
        creative_id=decision.creative.creative_id if decision.creative is not None else None,
        price_cpm=money(decision.bid_price),  # OpenRTB prices are CPM: the same number
        nbr=decision.nbr,
    )


def bid_decision(decided: Decision, profile: Profile | None) -> BidDecision:
    """A campaign decision as the `bid_responses` message records it (SPEC §3, §5)."""
    bid, interest = decided.bid, decided.interest
    return BidDecision(
        bid_price=bid.price if bid is not None else 0.0,
        tier=decided.tier.name,
        enriched=profile is not None,
        winning_interest=interest.category if interest is not None else None,
        interest_score=interest.score if interest is not None else None,
        user_interests=[i.category for i in profile.interests] if profile is not None else [],
        no_bid_reason=decided.no_bid.reason if decided.no_bid is not None else None,
        creative=ad_creative(bid.creative, decided.tier.name) if bid is not None else None,
        campaign_id=bid.campaign.id if bid is not None else None,
        nbr=decided.no_bid.nbr if decided.no_bid is not None else None,
    )


def ad_creative(creative: CreativeSpec, tier: str) -> AdCreative:
    return AdCreative(
        creative_id=creative.crid,
        title=creative.title,
        image_url=creative.image_url,
        landing_url=creative.landing_url,
        bid_tier=tier,
    )
