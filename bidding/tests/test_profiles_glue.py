"""The bidder with its real default lookup (profiles.client.GrpcProfileLookup) against an in-process
profile server on fakeredis: the glue between the two apps, no external service needed."""

import msgspec
import pytest

from bidding import consumer
from bidding.breaker import CircuitBreaker
from bidding.config import BidderSettings
from bidding.consumer import process_bid_requests
from bidding.tests.fakes import request
from conftest import free_port
from pipeline import topics
from pipeline.messages import BidResponse, encode
from pipeline.runner import build_role
from pipeline.testing import produce, read_all, run_until
from pipeline.transports import LocalTransport
from profiles.demo import DEMO_USERS
from profiles.tests.helpers import new_fake_store, running_server


@pytest.fixture
def target(settings):
    store = new_fake_store()
    store.put_many([u.profile for u in DEMO_USERS])
    with running_server(store) as (_, address):
        settings.HELIOS_PROFILES_TARGET = address
        settings.HELIOS_PROFILE_DEADLINE_S = 2.0  # generous: a slow CI machine must not flake
        yield address


def test_role_prices_demo_users_through_grpc(target: str) -> None:
    transport = LocalTransport(partitions=1)
    role = build_role("bidder", transport)
    assert role.ctx.ready_checks["profiles"]() is True
    for user in DEMO_USERS:
        produce(transport, topics.BID_REQUESTS, encode(request(f"req-{user.profile.user_id}", user.profile.user_id)))
    run_until(role, lambda: len(read_all(transport, topics.BID_RESPONSES)) >= len(DEMO_USERS))
    out = [msgspec.json.decode(p.value, type=BidResponse) for p in read_all(transport, topics.BID_RESPONSES)]
    tiers = {r.user_id: r.ad_creative.bid_tier for r in out if r.ad_creative}
    assert tiers == {u.profile.user_id: u.tier for u in DEMO_USERS}
    assert all(r.enriched for r in out)


def test_unreachable_service_is_not_ready_and_trips_the_breaker(settings) -> None:
    settings.HELIOS_PROFILES_TARGET = f"127.0.0.1:{free_port()}"  # nothing listens
    settings.HELIOS_PROFILE_DEADLINE_S = 0.2
    lookup = consumer.make_lookup()
    close = getattr(lookup, "close", None)
    assert close is not None
    assert consumer.profiles_ready(lookup)() is False
    breaker = CircuitBreaker("test-glue", failure_threshold=2, open_s=30)
    config = BidderSettings(profile_deadline_s=0.2)
    for _ in range(3):
        [response] = process_bid_requests([request("r1", "user-001")], lookup=lookup, breaker=breaker, config=config)
        assert (response.bid_price, response.enriched) == (0.35, False)
    assert breaker.state.name == "OPEN"  # UNAVAILABLE / DEADLINE_EXCEEDED count as outages
    close()
