import json
import logging
import re
import uuid

import msgspec
import pytest
from arroyo.backends.kafka import KafkaPayload
from arroyo.backends.local.backend import LocalBroker
from arroyo.backends.local.storages.memory import MemoryMessageStorage
from arroyo.types import Topic
from prometheus_client import REGISTRY

from bidding import consumer
from bidding.breaker import BreakerState, CircuitBreaker
from bidding.config import BidderSettings
from bidding.consumer import bidder_factory, process_bid_requests
from bidding.creatives import DEFAULT_CATALOG, DEFAULT_CREATIVE, Creative
from bidding.pricing import DEFAULT_TIERS
from bidding.readiness import READY_PROBE_USER_ID
from bidding.tests.fakes import (
    DEMO_PROFILES,
    FakeClock,
    FakeLookup,
    FakeLookupFailed,
    HealthCheckedLookup,
    demo_lookup,
    request,
    unavailable,
)
from pipeline.messages import AdCreative, BidResponse
from pipeline.roles import RoleContext
from profiles.demo import DEMO_USERS
from profiles.types import ProfileUnavailable

CONFIG = BidderSettings(profile_deadline_s=0.05)
RFC3339_MS = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")
SPEC_FIELDS = {
    "bid_request_id",
    "request_digest",  # docs/design.md: which requests are the same
    "imp_id",
    "user_id",
    "received_at",
    "site_domain",
    "bid_price",
    "bid_floor",
    "currency",
    "timestamp",
    "enriched",
    "winning_interest",
    "interest_score",
    "user_interests",
    "no_bid_reason",
    "ad_creative",
    # SPEC §12: what the campaign decision chose, for every source.
    "source",
    "campaign_id",
    "creative_id",
    "bid_id",
    "price_cpm",
    "nbr",
    "privacy",
    "latency_ms",
    "deadline_ms",
}


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def breaker(clock: FakeClock) -> CircuitBreaker:
    return CircuitBreaker(f"test-{uuid.uuid4().hex[:8]}", failure_threshold=5, open_s=30, clock=clock)


@pytest.fixture
def lookup() -> FakeLookup:
    return FakeLookup(DEMO_PROFILES)


def metric(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def test_one_lookup_per_batch_with_the_distinct_user_ids(lookup: FakeLookup, breaker: CircuitBreaker) -> None:
    batch = [
        request("r1", "user-premium"),
        request("r2", "user-mid"),
        request("r3", None),
        request("r4", "user-premium"),
        request("r5", "nobody"),
        request("r6", ""),
    ]
    process_bid_requests(batch, lookup=lookup, breaker=breaker, config=CONFIG)
    assert lookup.calls == [(["user-premium", "user-mid", "nobody"], 0.05)]


def test_no_lookup_without_user_ids(lookup: FakeLookup, breaker: CircuitBreaker) -> None:
    responses = process_bid_requests([request("r1"), request("r2", "")], lookup=lookup, breaker=breaker, config=CONFIG)
    assert lookup.calls == []
    assert [r.bid_price for r in responses] == [0.35, 0.35]
    assert not any(r.enriched for r in responses)


def test_one_response_per_impression_in_order(lookup: FakeLookup, breaker: CircuitBreaker) -> None:
    batch = [request("r1", "user-premium", 0.5, 1.0, 2.0), request("r2", None), request("r3", "user-mid", 0.1, 0.2)]
    responses = process_bid_requests(batch, lookup=lookup, breaker=breaker, config=CONFIG)
    assert [(r.bid_request_id, r.imp_id) for r in responses] == [
        ("r1", "1"),
        ("r1", "2"),
        ("r1", "3"),
        ("r2", "1"),
        ("r3", "1"),
        ("r3", "2"),
    ]
    assert [r.bid_price for r in responses] == [1.2, 1.2, 0, 0.35, 0.6, 0.6]
    assert [r.no_bid_reason for r in responses] == [None, None, "below_floor", None, None, None]


@pytest.mark.parametrize(
    ("user_id", "price", "tier", "enriched", "interest", "score", "interests"),
    [
        ("user-premium", 1.2, "premium", True, "sports", 0.95, ["sports", "travel"]),
        ("user-standard", 0.85, "standard", True, "technology", 0.9, ["food", "technology"]),
        ("user-mid", 0.6, "mid", True, "music", 0.5, ["music"]),
        ("user-low", 0.35, "base", True, "fashion", 0.2, ["fashion"]),
        ("user-empty", 0.35, "base", True, None, None, []),
        ("unknown-user", 0.35, "base", False, None, None, []),
        (None, 0.35, "base", False, None, None, []),
    ],
)
def test_prices_per_user(
    lookup: FakeLookup,
    breaker: CircuitBreaker,
    user_id: str | None,
    price: float,
    tier: str,
    enriched: bool,
    interest: str | None,
    score: float | None,
    interests: list[str],
) -> None:
    [response] = process_bid_requests([request("r1", user_id, 0.3)], lookup=lookup, breaker=breaker, config=CONFIG)
    assert response.bid_price == price
    assert response.enriched is enriched
    assert response.winning_interest == interest
    assert response.interest_score == score
    assert response.user_interests == interests
    assert response.no_bid_reason is None
    assert response.ad_creative is not None
    assert response.ad_creative.bid_tier == tier
    expected = DEFAULT_CATALOG.for_interest(interest)
    assert response.ad_creative.creative_id == expected.creative_id
    assert response.ad_creative.landing_url == expected.landing_url


def test_response_carries_every_spec_field(lookup: FakeLookup, breaker: CircuitBreaker) -> None:
    [response] = process_bid_requests(
        [request("req-1", "user-standard", 0.123456)], lookup=lookup, breaker=breaker, config=CONFIG
    )
    data = json.loads(msgspec.json.encode(response))
    assert set(data) == SPEC_FIELDS
    assert data["bid_request_id"] == "req-1"
    assert data["request_digest"] == "d-req-1"  # the request's, passed on
    assert data["imp_id"] == "1"
    assert data["user_id"] == "user-standard"
    assert data["received_at"] == "2026-11-26T12:00:00.123Z"
    assert data["site_domain"] == "news.example"
    assert data["bid_floor"] == 0.1235  # money: at most 4 decimals
    assert data["currency"] == "USD"
    assert RFC3339_MS.match(data["timestamp"])
    assert set(data["ad_creative"]) == {"creative_id", "title", "image_url", "landing_url", "bid_tier"}
    assert msgspec.json.decode(msgspec.json.encode(response), type=BidResponse) == response


def test_no_bid_responses(lookup: FakeLookup, breaker: CircuitBreaker) -> None:
    batch = [request("r1", "user-premium", 1.2, 1.2001, (0.1, "EUR"), (0.0, "usd"))]
    responses = process_bid_requests(batch, lookup=lookup, breaker=breaker, config=CONFIG)
    assert [(r.bid_price, r.no_bid_reason) for r in responses] == [
        (1.2, None),  # equal to the floor: bids
        (0, "below_floor"),
        (0, "currency"),
        (1.2, None),
    ]
    for r in responses:
        assert (r.ad_creative is None) is (r.no_bid_reason is not None)
        assert r.enriched
        assert r.winning_interest == "sports"


def test_unavailable_profiles_bid_base_unenriched(breaker: CircuitBreaker) -> None:
    lookup = FakeLookup(DEMO_PROFILES, error=unavailable())
    before = metric("user_profile_enrichment_total", status="unavailable")
    batch = [request("r1", "user-premium"), request("r2", "user-mid"), request("r3", None)]
    responses = process_bid_requests(batch, lookup=lookup, breaker=breaker, config=CONFIG)
    assert len(lookup.calls) == 1
    assert [(r.bid_price, r.enriched, r.winning_interest) for r in responses] == [(0.35, False, None)] * 3
    assert all(r.ad_creative == _creative(DEFAULT_CREATIVE, "base") for r in responses)
    assert breaker.consecutive_failures == 1
    assert metric("user_profile_enrichment_total", status="unavailable") - before == 2  # r3 has no user


def _creative(creative: Creative, tier: str) -> AdCreative:
    return AdCreative(
        creative_id=creative.creative_id,
        title=creative.title,
        image_url=creative.image_url,
        landing_url=creative.landing_url,
        bid_tier=tier,
    )


def test_plain_profile_unavailable_counts_as_an_outage(breaker: CircuitBreaker) -> None:
    lookup = FakeLookup(DEMO_PROFILES, error=ProfileUnavailable("down"))
    process_bid_requests([request("r1", "user-premium")], lookup=lookup, breaker=breaker, config=CONFIG)
    assert breaker.consecutive_failures == 1


def test_non_transient_lookup_failure_bids_unenriched_but_does_not_trip_the_breaker(
    breaker: CircuitBreaker,
) -> None:
    lookup = FakeLookup(DEMO_PROFILES, error=FakeLookupFailed("INTERNAL", transient=False))
    before = metric("user_profile_enrichment_total", status="error")
    for _ in range(10):
        [response] = process_bid_requests(
            [request("r1", "user-premium")], lookup=lookup, breaker=breaker, config=CONFIG
        )
        assert (response.bid_price, response.enriched) == (0.35, False)
    assert breaker.state is BreakerState.CLOSED
    assert breaker.consecutive_failures == 0
    assert len(lookup.calls) == 10
    assert metric("user_profile_enrichment_total", status="error") - before == 10


def test_unexpected_lookup_error_does_not_stop_the_bidder(
    breaker: CircuitBreaker, caplog: pytest.LogCaptureFixture
) -> None:
    lookup = FakeLookup(DEMO_PROFILES, error=RuntimeError("bug"))
    [response] = process_bid_requests([request("r1", "user-premium")], lookup=lookup, breaker=breaker, config=CONFIG)
    assert (response.bid_price, response.enriched) == (0.35, False)
    assert breaker.consecutive_failures == 1  # a lookup that keeps crashing gets skipped
    assert [r.levelname for r in caplog.records if r.name == "bidding.enrichment"] == ["ERROR"]


def test_no_log_per_message(lookup: FakeLookup, breaker: CircuitBreaker, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)
    process_bid_requests(
        [request(f"r{i}", "user-mid") for i in range(100)], lookup=lookup, breaker=breaker, config=CONFIG
    )
    assert caplog.records == []


def test_breaker_skips_lookups_for_30_s_after_5_failures(breaker: CircuitBreaker, clock: FakeClock) -> None:
    lookup = FakeLookup(DEMO_PROFILES, error=unavailable())
    batch = [request("r1", "user-premium")]
    for _ in range(5):
        process_bid_requests(batch, lookup=lookup, breaker=breaker, config=CONFIG)
    assert len(lookup.calls) == 5
    assert breaker.state is BreakerState.OPEN

    skipped = metric("user_profile_enrichment_total", status="skipped")
    lookup.error = None  # the service is back, but the breaker does not know yet
    for _ in range(10):
        clock.advance(2.9)
        [response] = process_bid_requests(batch, lookup=lookup, breaker=breaker, config=CONFIG)
        assert (response.bid_price, response.enriched) == (0.35, False)
    assert len(lookup.calls) == 5
    assert metric("user_profile_enrichment_total", status="skipped") - skipped == 10

    clock.advance(1.0)  # 30 s since it opened: one trial call
    [response] = process_bid_requests(batch, lookup=lookup, breaker=breaker, config=CONFIG)
    assert len(lookup.calls) == 6
    assert (response.bid_price, response.enriched) == (1.2, True)
    assert breaker.state is BreakerState.CLOSED
    process_bid_requests(batch, lookup=lookup, breaker=breaker, config=CONFIG)
    assert len(lookup.calls) == 7


def test_metrics(lookup: FakeLookup, breaker: CircuitBreaker) -> None:
    names = [
        ("bid_requests_processed_total", {"status": "bid"}),
        ("bid_requests_processed_total", {"status": "below_floor"}),
        ("bid_requests_processed_total", {"status": "currency"}),
        ("user_profile_enrichment_total", {"status": "found"}),
        ("user_profile_enrichment_total", {"status": "not_found"}),
        ("user_profile_enrichment_total", {"status": "no_user"}),
        ("bid_response_generation_duration_seconds_count", {}),
        ("bid_price_distribution_usd_count", {}),
        ("bid_price_distribution_usd_sum", {}),
    ]
    before = [metric(n, **labels) for n, labels in names]
    batch = [
        request("r1", "user-premium", 0.0, 5.0, (0.0, "EUR")),
        request("r2", "user-mid"),
        request("r3", "ghost"),
        request("r4", None),
    ]
    process_bid_requests(batch, lookup=lookup, breaker=breaker, config=CONFIG)
    deltas = [round(metric(n, **labels) - b, 6) for (n, labels), b in zip(names, before, strict=True)]
    assert deltas == [4, 1, 1, 2, 1, 1, 1, 4, round(1.2 + 0.6 + 0.35 + 0.35, 6)]


def test_bidder_settings_from_django_settings(settings) -> None:
    settings.HELIOS_PRICE_TIERS = json.dumps(
        [{"name": "gold", "min_score": 0.5, "price": 2.0}, {"name": "base", "price": 0.1}]
    )
    settings.HELIOS_CREATIVES = {
        "sports": {"creative_id": "cr-s9", "title": "S", "image_url": "https://i/s.png", "landing_url": "https://l/s"}
    }
    settings.HELIOS_PROFILE_DEADLINE_S = 0.2
    config = consumer.bidder_settings()
    assert config.tiers.for_score(0.6).price == 2.0
    assert config.tiers.for_score(0.4).name == "base"
    assert config.creatives.for_interest("sports").creative_id == "cr-s9"
    assert config.profile_deadline_s == 0.2
    assert config.currency == "USD"


def test_bidder_settings_default_to_the_built_in_tiers(settings) -> None:
    settings.HELIOS_PRICE_TIERS = ""
    assert consumer.bidder_settings().tiers == DEFAULT_TIERS
    assert consumer.bidder_settings().creatives == DEFAULT_CATALOG


def test_bad_tier_setting_fails_at_start(settings) -> None:
    settings.HELIOS_PRICE_TIERS = "[{"
    with pytest.raises(ValueError, match="HELIOS_PRICE_TIERS"):
        consumer.bidder_settings()


def test_lookup_from_setting(settings) -> None:
    settings.HELIOS_PROFILE_LOOKUP = "bidding.tests.fakes.demo_lookup"
    made = consumer.make_lookup()
    assert isinstance(made, FakeLookup)
    assert made.batch_get(["user-mid"], timeout_s=1) == demo_lookup().batch_get(["user-mid"], timeout_s=1)


def test_breaker_from_settings(settings) -> None:
    settings.HELIOS_BREAKER_FAILURES = 2
    settings.HELIOS_BREAKER_OPEN_S = 7.5
    breaker = consumer.make_breaker()
    assert (breaker.service, breaker.failure_threshold, breaker.open_s) == ("profiles", 2, 7.5)


def _ctx() -> RoleContext:
    broker: LocalBroker[KafkaPayload] = LocalBroker(MemoryMessageStorage())
    return RoleContext(role="bidder", producer=broker.get_producer(), output_topic=Topic("out"), ready_checks={})


def test_factory_adds_a_lazy_profiles_readiness_check(lookup: FakeLookup, breaker: CircuitBreaker) -> None:
    ctx = _ctx()
    bidder_factory(ctx, lookup=lookup, breaker=breaker, config=CONFIG)
    assert lookup.calls == []  # nothing is called until /readyz asks
    assert ctx.ready_checks["profiles"]() is True
    assert lookup.calls[0][0] == [READY_PROBE_USER_ID]
    lookup.error = unavailable()
    with pytest.raises(ProfileUnavailable, match="UNAVAILABLE"):
        ctx.ready_checks["profiles"]()


@pytest.mark.parametrize("healthy", [True, False])
def test_readiness_uses_the_lookups_health_check_when_it_has_one(healthy: bool) -> None:
    ctx = _ctx()
    lookup = HealthCheckedLookup(healthy)
    bidder_factory(ctx, lookup=lookup, config=CONFIG)
    assert lookup.health_checks == 0
    assert ctx.ready_checks["profiles"]() is healthy
    assert lookup.health_checks == 1
    assert lookup.calls == []


def test_factory_uses_the_module_lookup_hook(monkeypatch: pytest.MonkeyPatch, lookup: FakeLookup) -> None:
    monkeypatch.setattr(consumer, "make_lookup", lambda: lookup)
    factory = bidder_factory(_ctx())
    [out] = factory.transform([request("r1", "user-mid")])
    assert out.key == b"r1"
    assert msgspec.json.decode(out.value, type=BidResponse).bid_price == 0.6
    assert len(lookup.calls) == 1


def test_demo_users_price_at_their_documented_tier(breaker: CircuitBreaker) -> None:
    """profiles.demo writes each seeded user's expected outcome by hand: a second, independent source."""
    lookup = FakeLookup(user.profile for user in DEMO_USERS)
    batch = [request(f"r{i}", user.profile.user_id) for i, user in enumerate(DEMO_USERS)]
    responses = process_bid_requests(batch, lookup=lookup, breaker=breaker, config=CONFIG)
    assert len(lookup.calls) == 1
    for user, response in zip(DEMO_USERS, responses, strict=True):
        assert response.ad_creative is not None
        assert (response.ad_creative.bid_tier, response.winning_interest, response.interest_score) == (
            user.tier,
            user.winning_interest,
            user.score,
        ), user.note
        assert response.enriched
