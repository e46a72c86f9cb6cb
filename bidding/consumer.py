"""The bidder role: bid_requests -> profile lookup -> decision -> bid_responses (one per impression).

Each impression is decided over this process's campaign index (bidding/decision.py), refreshed in
the background (campaigns/refresher.py); with no active campaign, over the built-in house, which
bids as SPEC §5 says.

A whole batch of requests is enriched with ONE `batch_get` for its distinct user ids (SPEC §5,
ARCHITECTURE §4), through a circuit breaker: while the profile service fails, the bidder bids
unenriched (base tier) instead of waiting on it (bidding/enrichment.py).
"""

import logging
import time
from collections import Counter as Tally
from collections.abc import Callable, Sequence
from datetime import UTC, datetime

from arroyo.backends.kafka import KafkaPayload

from bidding.breaker import CircuitBreaker
from bidding.config import BidderSettings, bidder_settings
from bidding.decision import Placement, Slot, decide_request
from bidding.enrichment import enrichment_status, lookup_profiles, make_breaker, make_lookup
from bidding.metrics import BID_PRICE, BID_REQUESTS_PROCESSED, BID_RESPONSE_DURATION, PROFILE_ENRICHMENT, RTB_SKIPPED
from bidding.readiness import profiles_ready
from bidding.responses import bid_decision, bid_response
from campaigns.house import HOUSE_KEY
from campaigns.index import CampaignIndex, build_index
from campaigns.refresher import SHARED
from pipeline import topics
from pipeline.logs import log_requests
from pipeline.messages import BidRequest, BidResponse, utc_now
from pipeline.roles import RoleContext
from pipeline.strategies import TransformFactory, payload
from profiles.types import ProfileLookup

logger = logging.getLogger(__name__)


CampaignSource = Callable[[], CampaignIndex]
RTB_SOURCE = "rtb"  # BidRequest.source of `POST /openrtb2/bid`: decided by the handler


def process_bid_requests(
    batch: Sequence[BidRequest],
    *,
    lookup: ProfileLookup,
    breaker: CircuitBreaker,
    config: BidderSettings,
    campaigns: CampaignSource | None = None,
) -> list[BidResponse]:
    """Prices a batch: exactly one BidResponse per impression, in request then impression order,
    each decided over the campaign index `campaigns()` returns (default: the built-in house).

    Requests from `POST /openrtb2/bid` (`source` "rtb") are skipped: the handler decided them and
    produced their responses itself (SPEC §12); they get no response here and no lookup.

    Makes at most one `lookup.batch_get` call (none when the batch has no user ids or the breaker
    is open), with the distinct non-empty user ids of the batch.
    """
    started = time.perf_counter()
    priced = [r for r in batch if r.source != RTB_SOURCE]
    if len(priced) != len(batch):
        RTB_SKIPPED.inc(len(batch) - len(priced))
        batch = priced
        if not batch:
            return []
    user_ids = list(dict.fromkeys(r.user_id for r in batch if r.user_id))
    profiles, failure = lookup_profiles(user_ids, lookup=lookup, breaker=breaker, timeout_s=config.profile_deadline_s)
    index = campaigns() if campaigns is not None else config.house
    now = datetime.now(UTC)
    priced_at = utc_now()
    enrichment: Tally[str] = Tally()
    outcomes: Tally[str] = Tally()
    responses: list[BidResponse] = []
    for request in batch:
        profile = profiles.get(request.user_id) if request.user_id else None
        enrichment[enrichment_status(request, profile, failure)] += 1
        placement = Placement(site_domain=request.site_domain, user_id=request.user_id)
        # SPEC §5: `/bid` fits no creative to the impression (no media: any creative fits).
        slots = [Slot(imp_id=imp.imp_id, bidfloor=imp.bidfloor, bidfloorcur=imp.bidfloorcur) for imp in request.imps]
        decided = decide_request(index, placement, slots, profile=profile, now=now, pricing=config.pricing)
        for imp, decided_imp in zip(request.imps, decided, strict=True):
            decision = bid_decision(decided_imp, profile)
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


def campaign_source(fallback: CampaignIndex) -> CampaignSource:
    """The `house` campaign of this process's campaign index (campaigns/refresher.py), as an index
    of its own: `POST /bid` bids for the house only (SPEC §13, seed compatibility), with its current
    status and creatives. `fallback` (the built-in house) while there is no index (not loaded yet,
    database unreachable) or the index holds no active `house` (never seeded)."""
    cache: dict[str, CampaignIndex | None] = {"source": None, "house": fallback}

    def current() -> CampaignIndex:
        index = SHARED.index
        if index is None:
            return fallback
        if index is not cache["source"]:
            house = index.by_key.get(HOUSE_KEY)
            cache["source"] = index
            cache["house"] = (
                build_index([house], version=index.version, loaded_at=index.loaded_at) if house else fallback
            )
        result = cache["house"]
        assert result is not None
        return result

    return current


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
    campaigns = campaign_source(config.house)
    SHARED.acquire()
    ctx.closers.append(SHARED.release)

    def transform(batch: Sequence[BidRequest]) -> list[KafkaPayload]:
        responses = process_bid_requests(batch, lookup=lookup, breaker=breaker, config=config, campaigns=campaigns)
        log_requests(logger, "bid priced", (r.bid_request_id for r in responses))
        return [payload(r, r.bid_request_id) for r in responses]

    return TransformFactory(
        kind=BidRequest,
        input_topic=topics.BID_REQUESTS,
        transform=transform,
        producer=ctx.producer,
        output_topic=ctx.output_topic,
    )
