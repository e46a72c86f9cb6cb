"""The bidder role: bid_requests -> profile lookup -> price -> bid_responses (one per impression).

A whole batch of requests is enriched with ONE `batch_get` for its distinct user ids (SPEC §5,
ARCHITECTURE §4), through a circuit breaker: while the profile service fails, the bidder bids
unenriched (base tier) instead of waiting on it.
"""

import json
import logging
import time
from collections import Counter as Tally
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from arroyo.backends.kafka import KafkaPayload
from django.conf import settings
from django.utils.module_loading import import_string
from prometheus_client import Counter, Histogram

from bidding.breaker import CircuitBreaker
from bidding.creatives import DEFAULT_CATALOG, CreativeCatalog, catalog_from_config
from bidding.pricing import DEFAULT_TIERS, BidDecision, Tiers, price_bid
from pipeline import topics
from pipeline.logs import log_requests
from pipeline.messages import DEFAULT_CURRENCY, AdCreative, BidRequest, BidResponse, Imp, money, utc_now
from pipeline.roles import RoleContext
from pipeline.strategies import TransformFactory, payload
from profiles.types import Profile, ProfileLookup, ProfileUnavailable

logger = logging.getLogger(__name__)

# Per impression (= per bid response): status "bid", "below_floor" or "currency".
BID_REQUESTS_PROCESSED = Counter(
    "bid_requests_processed_total", "Impressions priced by the bidder, by outcome", ["status"]
)
# Per batch: from the batch reaching the bidder to its responses being built (lookup included).
BID_RESPONSE_DURATION = Histogram(
    "bid_response_generation_duration_seconds",
    "Time to price one batch of bid requests, profile lookup included",
    buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5),
)
# Per bid request: found, not_found, no_user, unavailable, skipped (breaker open) or error.
PROFILE_ENRICHMENT = Counter(
    "user_profile_enrichment_total", "Profile enrichment of bid requests, by result", ["status"]
)
# `user_profile_rpc_duration_seconds` (SPEC §9) belongs to the lookup: profiles/client.py.
# Per bid actually made (no-bids are not observed); buckets sit on the default tier prices.
BID_PRICE = Histogram(
    "bid_price_distribution_usd",
    "Bid prices in USD",
    buckets=(0.1, 0.25, 0.35, 0.5, 0.6, 0.75, 0.85, 1.0, 1.2, 1.5, 2.0, 5.0),
)

# Readiness probe: an id no real user has; "not found" proves the service and its store answer.
READY_PROBE_USER_ID = "__helios_readyz__"
READY_PROBE_TIMEOUT_S = 1.0


@dataclass(frozen=True)
class BidderSettings:
    tiers: Tiers = DEFAULT_TIERS
    creatives: CreativeCatalog = DEFAULT_CATALOG
    profile_deadline_s: float = 0.05
    currency: str = DEFAULT_CURRENCY


def bidder_settings() -> BidderSettings:
    """The bidder's settings from Django settings; HELIOS_PRICE_TIERS and HELIOS_CREATIVES are
    optional JSON (a string, or the parsed list/dict) and default to the built-in ones."""
    tiers_config = _json_setting("HELIOS_PRICE_TIERS")
    creatives_config = _json_setting("HELIOS_CREATIVES")
    return BidderSettings(
        tiers=Tiers.from_config(tiers_config) if tiers_config is not None else DEFAULT_TIERS,
        creatives=catalog_from_config(creatives_config) if creatives_config is not None else DEFAULT_CATALOG,
        profile_deadline_s=settings.HELIOS_PROFILE_DEADLINE_S,
        currency=settings.HELIOS_BID_CURRENCY,
    )


def _json_setting(name: str) -> Any:
    value = getattr(settings, name)
    if isinstance(value, str):
        value = value.strip()
        if not value:
            return None
        try:
            return json.loads(value)
        except json.JSONDecodeError as exc:
            raise ValueError(f"{name} is not valid JSON: {exc}") from exc
    return value


def make_lookup() -> ProfileLookup:
    """The bidder's profile lookup: HELIOS_PROFILE_LOOKUP (dotted path of a zero-argument factory)
    when set, else the gRPC client at HELIOS_PROFILES_TARGET."""
    path = settings.HELIOS_PROFILE_LOOKUP
    if path:
        factory: Callable[[], ProfileLookup] = import_string(path)
        return factory()
    from profiles.client import GrpcProfileLookup

    return GrpcProfileLookup(settings.HELIOS_PROFILES_TARGET)


def make_breaker() -> CircuitBreaker:
    return CircuitBreaker(
        "profiles", failure_threshold=settings.HELIOS_BREAKER_FAILURES, open_s=settings.HELIOS_BREAKER_OPEN_S
    )


def lookup_profiles(
    user_ids: Sequence[str], *, lookup: ProfileLookup, breaker: CircuitBreaker, timeout_s: float
) -> tuple[Mapping[str, Profile], str | None]:
    """One batched lookup through the breaker: (profiles found, failure status or None).

    Never raises: on failure the bidder prices unenriched. Failure statuses:
    - "skipped": the breaker is open, no call was made;
    - "unavailable": ProfileUnavailable that is transient (UNAVAILABLE / DEADLINE_EXCEEDED; an
      exception without a `transient` attribute counts as transient). The breaker counts it.
    - "error": a non-transient ProfileUnavailable (INTERNAL, INVALID_ARGUMENT...: the service
      answered, so the breaker ignores it; the client logs it), or any other exception, a bug in
      the lookup, which is logged with its traceback and counted by the breaker so that a lookup
      that keeps crashing is skipped and its log stays bounded.
    """
    if not user_ids:
        return {}, None
    if not breaker.allow():
        return {}, "skipped"
    try:
        profiles = lookup.batch_get(user_ids, timeout_s=timeout_s)
    except ProfileUnavailable as exc:
        if getattr(exc, "transient", True):
            breaker.record_failure()
            logger.debug("profile lookup unavailable for a batch of %d users: %s", len(user_ids), exc)
            return {}, "unavailable"
        breaker.record_neutral()
        return {}, "error"
    except Exception:
        breaker.record_failure()
        logger.exception("profile lookup failed unexpectedly for a batch of %d users", len(user_ids))
        return {}, "error"
    breaker.record_success()
    return profiles, None


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
        enrichment[_enrichment_status(request, profile, failure)] += 1
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
            responses.append(_response(request, imp, decision, priced_at=priced_at, currency=config.currency))
    for status, count in enrichment.items():
        PROFILE_ENRICHMENT.labels(status).inc(count)
    for status, count in outcomes.items():
        BID_REQUESTS_PROCESSED.labels(status).inc(count)
    BID_RESPONSE_DURATION.observe(time.perf_counter() - started)
    return responses


def _response(request: BidRequest, imp: Imp, decision: BidDecision, *, priced_at: str, currency: str) -> BidResponse:
    creative = None
    if decision.creative is not None:
        creative = AdCreative(
            creative_id=decision.creative.creative_id,
            title=decision.creative.title,
            image_url=decision.creative.image_url,
            landing_url=decision.creative.landing_url,
            bid_tier=decision.tier,
        )
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
        ad_creative=creative,
    )


def _enrichment_status(request: BidRequest, profile: Profile | None, failure: str | None) -> str:
    if not request.user_id:
        return "no_user"
    if failure is not None:
        return failure
    return "found" if profile is not None else "not_found"


def profiles_ready(lookup: ProfileLookup) -> Callable[[], bool]:
    """A /readyz check for the profile service, run only when /readyz asks: the lookup's own
    `check_health()` (GrpcProfileLookup: the gRPC health service) when it has one, else one cheap
    lookup of an id nobody has. Bypasses the breaker."""
    check_health = getattr(lookup, "check_health", None)
    if callable(check_health):
        return lambda: bool(check_health())

    def probe() -> bool:
        lookup.batch_get([READY_PROBE_USER_ID], timeout_s=READY_PROBE_TIMEOUT_S)
        return True

    return probe


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
