"""The bidder's metrics (SPEC §9). `user_profile_rpc_duration_seconds` belongs to the lookup:
profiles/client.py."""

from prometheus_client import Counter, Histogram

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
# Per bid actually made (no-bids are not observed); buckets sit on the default tier prices.
BID_PRICE = Histogram(
    "bid_price_distribution_usd",
    "Bid prices in USD",
    buckets=(0.1, 0.25, 0.35, 0.5, 0.6, 0.75, 0.85, 1.0, 1.2, 1.5, 2.0, 5.0),
)
# Per bid request from `POST /openrtb2/bid`: the handler decided it, the bidder passes it by.
RTB_SKIPPED = Counter("helios_bidder_rtb_skipped_total", "RTB bid requests skipped (decided by the handler)")
