"""From a priced impression to its `bid_responses` message."""

from bidding.pricing import BidDecision
from pipeline.messages import BidRequest, BidResponse, Imp, money


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
    )
