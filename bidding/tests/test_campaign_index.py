"""The bidder role decides over this process's campaign index, which follows the database."""

import time
from collections.abc import Callable
from typing import Any

import msgspec
import pytest

from bidding import consumer
from bidding.breaker import CircuitBreaker
from bidding.config import bidder_settings
from bidding.consumer import process_bid_requests
from bidding.tests.fakes import DEMO_PROFILES, FakeLookup, request
from campaigns import services
from campaigns.changes import reset_signal_client
from campaigns.models import Creative, Status
from campaigns.refresher import SHARED, SharedRefresher
from campaigns.seed import seed_campaigns
from pipeline import topics
from pipeline.messages import BidResponse, encode
from pipeline.runner import BuiltRole, build_role
from pipeline.testing import produce, read_all, step_until
from pipeline.transports import LocalTransport

BOUND_S = 10.0  # a generous poll bound (the contract is 2 s); the time seen is printed (pytest -s)


def wait_for(condition: Callable[[], bool], what: str) -> float:
    started = time.monotonic()
    while not condition():
        if time.monotonic() - started > BOUND_S:
            pytest.fail(f"{what} not seen within {BOUND_S} s")
    return time.monotonic() - started


class Bidder:
    """A running bidder role (`build_role`, in-process broker) to which one request at a time is sent."""

    def __init__(self, role: BuiltRole, transport: LocalTransport) -> None:
        self.role, self.transport, self.sent = role, transport, 0

    def creative_for(self, user_id: str) -> str | None:
        self.sent += 1
        message = request(f"req-{self.sent}", user_id)
        produce(self.transport, topics.BID_REQUESTS, encode(message), message.request_id.encode())
        step_until(self.role, lambda: len(read_all(self.transport, topics.BID_RESPONSES)) >= self.sent)
        last = msgspec.json.decode(read_all(self.transport, topics.BID_RESPONSES)[-1].value, type=BidResponse)
        return last.ad_creative.creative_id if last.ad_creative is not None else None


@pytest.mark.django_db(transaction=True)
def test_post_bid_bids_for_the_house_only_and_a_running_bidder_follows_its_changes(
    settings: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """SPEC §13 seed compatibility: `POST /bid` is the house's, whatever else is active; a change
    to the house (a creative paused through the service) reaches a running bidder."""
    settings.HELIOS_CAMPAIGN_SIGNAL = "fake"  # as embedded mode runs it
    reset_signal_client()
    monkeypatch.setattr(consumer, "make_lookup", lambda: FakeLookup(DEMO_PROFILES))
    seed_campaigns(demo=False)  # the house, from the database this time
    advertiser = services.advertiser_create(data={"name": "Rival Co.", "adomain": "rival.example"})
    rival = services.campaign_create(
        data={
            "advertiser": advertiser,
            "name": "Rival",
            "status": "active",
            "strategy": "fixed",
            "fixed_cpm_micros": 2_000_000,
        }
    )
    services.creative_create(
        data={
            "campaign": rival,
            "crid": "rival-mrec",
            "media": "banner",
            "w": 300,
            "h": 250,
            "image_url": "https://cdn.rival.example/mrec.png",
            "landing_url": "https://rival.example/",
        }
    )
    transport = LocalTransport(partitions=1)
    bidder = Bidder(build_role("bidder", transport), transport)
    try:
        wait_for(lambda: SHARED.index is not None and rival.id in SHARED.index.by_id, "the index holding the rival")
        assert bidder.creative_for("user-premium") == "cr-sports-001"  # the rival's 2.00 CPM is not the house's
        services.creative_set_status(creatives=[Creative.objects.get(crid="cr-sports-001")], status=Status.PAUSED)
        elapsed = wait_for(
            lambda: bidder.creative_for("user-premium") not in ("cr-sports-001", "rival-mrec"),
            "the house bidding without its paused creative",
        )
        print(f"the paused creative stopped bidding after {elapsed * 1000:.0f} ms")
    finally:
        bidder.role.shutdown()
        bidder.role.run()
    assert SHARED.refresher is None  # the role released the process's refresher when it stopped
    reset_signal_client()


def test_with_no_campaign_index_the_bidder_bids_as_the_built_in_house() -> None:
    """No database access here: the index cannot load, and the house (SPEC §5) bids."""
    transport = LocalTransport(partitions=1)
    role = build_role("bidder", transport)
    bidder = Bidder(role, transport)
    try:
        assert bidder.creative_for("user-nobody") == "cr-default-001"
    finally:
        role.shutdown()
        role.run()


def test_floors_in_other_currencies_bid_when_a_rate_is_configured(settings: Any) -> None:
    settings.HELIOS_CURRENCY_RATES = '{"eur": 1.10}'
    config = bidder_settings()
    lookup, breaker = FakeLookup(DEMO_PROFILES), CircuitBreaker()
    eur, gbp, too_high = process_bid_requests(
        [request("r1", "user-premium", (1.0, "EUR")), request("r2", "user-premium", (0.1, "GBP")),
         request("r3", "user-premium", (1.1, "EUR"))],
        lookup=lookup, breaker=breaker, config=config,
    )  # fmt: skip
    assert (eur.bid_price, eur.no_bid_reason) == (1.2, None)  # 1.10 USD floor
    assert (gbp.bid_price, gbp.no_bid_reason) == (0.0, "currency")  # no rate: no bid, as always
    assert (too_high.bid_price, too_high.no_bid_reason) == (0.0, "below_floor")  # 1.21 USD floor


@pytest.mark.parametrize("value", ['{"EUR": 0}', '{"EUR": "1.1"}', '{"EURO": 1.1}', "[1.1]", "{"])
def test_bad_currency_rates_fail_at_start(settings: Any, value: str) -> None:
    settings.HELIOS_CURRENCY_RATES = value
    with pytest.raises(ValueError, match="HELIOS_CURRENCY_RATES"):
        bidder_settings()


class CountingRefresher:
    def __init__(self) -> None:
        self.started = self.stopped = 0
        self.index = None

    def start(self, *, load_in_thread: bool = False) -> "CountingRefresher":
        self.started += 1
        return self

    def stop(self) -> None:
        self.stopped += 1


def test_the_roles_of_one_process_share_one_refresher() -> None:
    made: list[CountingRefresher] = []

    def make() -> Any:
        made.append(CountingRefresher())
        return made[-1]

    shared = SharedRefresher(make=make)
    handler, bidder = shared.acquire(), shared.acquire()
    assert len(made) == 1 and made[0].started == 1
    handler.release()
    assert made[0].stopped == 0  # the bidder still uses it
    bidder.release()
    assert made[0].stopped == 1 and shared.refresher is None
    shared.acquire()
    assert len(made) == 2  # a role started later gets a fresh one
