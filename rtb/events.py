"""The Kafka events of one `/openrtb2/bid` request (SPEC §12): its `bid_requests` message
(`source: "rtb"`) and one `bid_responses` message per impression with the decision's campaign,
creative, bid id, CPM and nbr, so the pipeline stores and shows them like every other bid."""

from collections.abc import Sequence

from bidding.decision import Decision
from bidding.responses import bid_decision, bid_response
from pipeline import topics
from pipeline.messages import BidRequest, encode, utc_now
from profiles.types import Profile


def bid_events(
    request: BidRequest,
    decisions: Sequence[Decision],
    bid_ids: Sequence[str | None],
    *,
    profile: Profile | None,
    latency_ms: float,
    deadline_ms: float,
    currency: str,
) -> list[tuple[str, bytes]]:
    """(topic, value) pairs: the request first, then its impressions in order."""
    events = [(topics.BID_REQUESTS, encode(request))]
    priced_at = utc_now()
    for imp, decided, bid_id in zip(request.imps, decisions, bid_ids, strict=True):
        response = bid_response(request, imp, bid_decision(decided, profile), priced_at=priced_at, currency=currency)
        response.bid_id = bid_id
        response.privacy = request.privacy
        response.latency_ms = round(latency_ms, 3)
        response.deadline_ms = round(deadline_ms, 3)
        events.append((topics.BID_RESPONSES, encode(response)))
    return events
