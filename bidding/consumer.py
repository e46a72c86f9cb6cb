"""The bidder role: bid_requests -> profile lookup -> price -> bid_responses (one per impression).

A whole batch of requests is enriched with ONE `batch_get` for its distinct user ids (SPEC §5,
ARCHITECTURE §4), through a circuit breaker: while the profile service fails, the bidder bids
unenriched (base tier) instead of waiting on it (bidding/enrichment.py).
"""

import logging
import time
from collections import Counter as Tally
from collections.abc import Sequence

from arroyo.backends.kafka import KafkaPayload

from bidding.breaker import CircuitBreaker
from bidding.config import BidderSettings, bidder_settings
from bidding.enrichment import enrichment_status, lookup_profiles, make_breaker, make_lookup
from bidding.metrics import BID_PRICE, BID_REQUESTS_PROCESSED, BID_RESPONSE_DURATION, PROFILE_ENRICHMENT
from bidding.pricing import price_bid
from bidding.readiness import profiles_ready
from bidding.responses import bid_response
from pipeline import topics
from pipeline.logs import log_requests
from pipeline.messages import BidRequest, BidResponse, utc_now
from pipeline.roles import RoleContext
from pipeline.strategies import TransformFactory, payload
from profiles.types import ProfileLookup

logger = logging.getLogger(__name__)


def process_bid_requests(
    batch: Sequence[BidRequest], *, lookup: ProfileLookup, breaker: CircuitBreaker, config: BidderSettings
) -> list[BidResponse]:
    """Prices a batch: exactly one BidResponse per impression, in request then impression order.

    Makes at most one `lookup.batch_get` call (none when the batch has no user ids or the breaker
    is open), with the distinct non-empty user ids of the batch.
    """
    started = time.perf_counter()
    user_ids = list(dict.fromkeys(r.user_id for r in batch if r.user_id))
    profiles, failure = lookup_profiles(user_ids, lookup=lookup, breaker=breaker, timeout_s=config.profile_deadline_s)
    priced_at = utc_now()
    enrichment: Tally[str] = Tally()
    outcomes: Tally[str] = Tally()
    responses: list[BidResponse] = []
    for request in batch:
        profile = profiles.get(request.user_id) if request.user_id else None
        enrichment[enrichment_status(request, profile, failure)] += 1
        for imp in request.imps:
            decision = price_bid(
                profile=profile,
                floor=imp.bidfloor,
                floor_currency=imp.bidfloorcur,
                tiers=config.tiers,
                creatives=config.creatives,
                currency=config.currency,
            )
            outcomes[decision.no_bid_reason or "bid"] += 1
            if decision.bids:
                BID_PRICE.observe(decision.bid_price)
            responses.append(bid_response(request, imp, decision, priced_at=priced_at, currency=config.currency))
    for status, count in enrichment.items():
        PROFILE_ENRICHMENT.labels(status).inc(count)
    for status, count in outcomes.items():
        BID_REQUESTS_PROCESSED.labels(status).inc(count)
    BID_RESPONSE_DURATION.observe(time.perf_counter() - started)
    return responses


def bidder_factory(
    ctx: RoleContext,
    *,
    lookup: ProfileLookup | None = None,
    breaker: CircuitBreaker | None = None,
    config: BidderSettings | None = None,
) -> TransformFactory:
    """The bidder's strategy factory. `build_role` passes only `ctx`; the keyword arguments let
    tests and embedded wiring inject a lookup, breaker or settings (default: `make_lookup()`,
    `make_breaker()`, `bidder_settings()`)."""
    assert ctx.producer is not None
    assert ctx.output_topic is not None
    if lookup is None:
        lookup = make_lookup()
        close = getattr(lookup, "close", None)
        if close is not None:
            ctx.closers.append(close)  # the role owns the lookup it made (its gRPC channel)
    breaker = breaker if breaker is not None else make_breaker()
    config = config if config is not None else bidder_settings()
    ctx.ready_checks.setdefault("profiles", profiles_ready(lookup))

    def transform(batch: Sequence[BidRequest]) -> list[KafkaPayload]:
        responses = process_bid_requests(batch, lookup=lookup, breaker=breaker, config=config)
        log_requests(logger, "bid priced", (r.bid_request_id for r in responses))
        return [payload(r, r.bid_request_id) for r in responses]

    return TransformFactory(
        kind=BidRequest,
        input_topic=topics.BID_REQUESTS,
        transform=transform,
        producer=ctx.producer,
        output_topic=ctx.output_topic,
    )
