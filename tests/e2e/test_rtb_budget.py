"""The ledger at bid time across processes (SPEC §14): two real handler processes bidding for one
campaign with a small total budget never reserve more than it, and the ledger holds exactly the
reservations of the bids they answered."""

import asyncio
import time
import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest

from campaigns.tests.ledger_support import drop_keys, make_ledger
from tests.e2e.harness import wait_for
from tests.e2e.rtb_support import create_campaign, rtb_platform, rtb_post, rtb_request, staff

__all__ = ["rtb_platform", "staff"]  # fixtures

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

IMPRESSIONS = 20
COST = 4_000  # a $4 CPM: 4,000 micros an impression


@pytest.fixture
def ledger_prefix(monkeypatch, settings):
    """The handlers' ledger under a key prefix of this test's own, on the test's Redis."""
    prefix = f"HELIOS_i16l:e2e:{uuid.uuid4().hex[:8]}"
    monkeypatch.setenv("HELIOS_LEDGER_PREFIX", prefix)
    url = settings.REDIS_URL
    monkeypatch.setenv("HELIOS_LEDGER_REDIS_URL", url)
    yield prefix, url
    settings.REDIS_URL = url
    drop_keys(prefix)


def test_two_handlers_never_bid_past_the_budget(ledger_prefix, rtb_platform, staff):
    platform, (prefix, url) = rtb_platform, ledger_prefix
    campaign = create_campaign(staff, total_budget="0.08")  # 20 impressions
    platform.start("handler")
    platform.start_extra("handler", 1)
    ports = [platform.handler_port, *platform.handler_ports.values()]
    answered: list[int] = []

    def post(i: int) -> None:
        answered.append(rtb_post(ports[i % 2], rtb_request(f"budget-{i}", user={"id": f"u{i}"}))[0])

    for port in ports:  # each handler has loaded the campaign (those bids count too)

        def bids(port: int = port) -> bool:
            status = rtb_post(port, rtb_request(f"warm-{uuid.uuid4().hex[:6]}"))[0]
            answered.append(status)
            return status == 200

        wait_for(bids, 30, "the handler to bid for the campaign")
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(post, range(3 * IMPRESSIONS)))
    assert answered.count(200) == IMPRESSIONS  # the budget's worth, not one more
    assert set(answered) == {200, 204}

    async def state() -> tuple[int, int]:
        ledger = make_ledger(prefix, url)
        got = await ledger.state(campaign, now=time.time())
        await ledger.close()
        return got.reserved_micros, got.open_reservations

    assert asyncio.run(state()) == (IMPRESSIONS * COST, IMPRESSIONS)
