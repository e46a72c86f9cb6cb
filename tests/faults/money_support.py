"""The money acceptance tests' platform (SPEC §14, §15): several real handler processes, the profiles,
auction and outcomes roles, the real Redis ledger under a key prefix of the test's own, a campaign
made through the REST API before the handlers start, and `manage.py exchange`'s simulator spreading
its requests over the handlers."""

import asyncio
import json
import time
import uuid
from collections.abc import Iterator
from decimal import Decimal
from functools import partial
from typing import Any

import pytest
import redis
from django.conf import settings
from django.contrib.auth.models import User
from rest_framework.test import APIClient

from campaigns.ledger import CampaignLedger, impression_cost
from campaigns.ledger.rules import Keys
from campaigns.tests.ledger_support import drop_keys, make_ledger
from exchange.requests import TCF_VENDOR_ID
from exchange.simulator import Config, Exchange
from exchange.stats import render
from outcomes.models import AuctionOutcome
from tests.e2e.harness import Platform, wait_for
from tests.e2e.rtb_support import rtb_post, rtb_request

# As the README runs the handler for the simulator; deadlines a loaded 2-core machine meets; a short
# notice window, so that the reservations of answers the exchange dropped (later than tmax) come back.
WINDOW_S = 8
# A "day" that no run crosses (the next boundary is in 2033): a run across UTC midnight would
# otherwise get a second daily budget and fail the spent-today == spent-total checks.
DAY_S = 1_000_000_000
ENV = {
    "HELIOS_LEDGER_DAY_S": str(DAY_S),
    "HELIOS_CURRENCY_RATES": json.dumps({"EUR": 1.08}),
    "HELIOS_TCF_VENDOR_ID": str(TCF_VENDOR_ID),
    "HELIOS_RTB_PROFILE_DEADLINE_MS": "500",
    "HELIOS_RTB_DEADLINE_CAP_MS": "2000",
    "HELIOS_LEDGER_STORE": "redis",
    "HELIOS_LEDGER_NOTICE_WINDOW_S": str(WINDOW_S),
}


@pytest.fixture
def ledger_prefix() -> Iterator[str]:
    prefix = f"HELIOS_i16t:money:{uuid.uuid4().hex[:10]}"
    yield prefix
    drop_keys(prefix)


def create_campaign(**fields: Any) -> int:
    """A fixed-CPM banner campaign (300x250 and 728x90 creatives) anyone's traffic matches, made
    through the REST API as an operator makes it."""
    client = APIClient()
    client.force_authenticate(User.objects.create_user(f"ops-{uuid.uuid4().hex[:6]}", is_staff=True, is_superuser=True))
    name = f"Money Co {uuid.uuid4().hex[:6]}"  # one advertiser a campaign: a test may make several
    advertiser = client.post("/api/advertisers/", {"name": name, "adomain": "money.example"}, format="json")
    assert advertiser.status_code == 201, advertiser.json()
    body = {"advertiser": advertiser.json()["id"], "name": "Money", "status": "active", "strategy": "fixed", **fields}
    campaign = client.post("/api/campaigns/", body, format="json")
    assert campaign.status_code == 201, campaign.json()
    campaign_id = int(campaign.json()["id"])
    for w, h in ((300, 250), (728, 90)):
        creative = client.post("/api/creatives/", {"campaign": campaign_id, "crid": f"money-{campaign_id}-{w}x{h}",
                                                   "media": "banner", "w": w, "h": h,
                                                   "image_url": "https://cdn.money.example/a.png",
                                                   "landing_url": "https://money.example/"}, format="json")  # fmt: skip
        assert creative.status_code == 201, creative.json()
    return campaign_id


def start_handlers(platform: Platform, count: int) -> list[int]:
    """`count` handler processes, each on its own port, each seen bidding for the campaign."""
    platform.start("handler")
    for i in range(1, count):
        platform.start_extra("handler", i)
    ports = list(platform.handler_ports.values())
    for port in ports:
        wait_for(partial(bids, port), 60, "the handler to bid for the campaign")
    return ports


def bids(port: int) -> bool:
    """The handler bids (a request with no floor and no user: the campaign's reservation expires unused)."""
    warm = rtb_request(f"warm-{uuid.uuid4().hex[:6]}", imp=[{"id": "1", "banner": {"w": 300, "h": 250}}])
    return rtb_post(port, warm)[0] == 200


def money_platform(tmp_path: Any, topic_prefix: str, prefix: str, **env: str) -> Platform:
    """The platform with ENV, overridden by `env` (another day, for instance)."""
    platform = Platform(tmp_path, topic_prefix, settings.REDIS_URL, HELIOS_LEDGER_PREFIX=prefix, **{**ENV, **env})
    try:
        platform.seed_profiles()
        for role in ("profiles", "outcomes", "auction"):
            platform.start(role)
    except BaseException:
        platform.stop_all()
        raise
    return platform


def play(ports: list[int], **config: Any) -> dict[str, Any]:
    """The simulator against the handlers in turn, every win billed three times; prints its summary."""
    urls = tuple(f"http://127.0.0.1:{port}" for port in ports)
    base = {"tmax_ms": 1000, "bill_delay_ms": 200, "bill_repeats": 3, "bill_retry_ms": 200, "progress": False}
    summary = asyncio.run(Exchange(Config(urls=urls, **{**base, **config})).run())
    print(render(summary))
    return summary


def ledger_state(prefix: str, campaign: int, **config: Any) -> CampaignLedger:
    """The campaign's ledger now; `config`: LedgerSettings fields as the platform's env set them."""

    async def state() -> CampaignLedger:
        ledger = make_ledger(prefix, **{"day_s": DAY_S, **config})
        try:
            return await ledger.state(campaign, now=time.time())
        finally:
            await ledger.close()

    return asyncio.run(state())


def billed_counts(prefix: str, campaign: int, users: list[str]) -> dict[str, int]:
    """The ledger's billed-impression counter of each user (frequency caps)."""
    client, keys = redis.Redis.from_url(settings.REDIS_URL), Keys(prefix, campaign)
    return {user: int(client.get(keys.billed(user)) or 0) for user in users}


def billed_rows(campaign: int) -> list[AuctionOutcome]:
    return list(AuctionOutcome.objects.filter(source="rtb", campaign_id=campaign, status="billed"))


def cost_of(row: AuctionOutcome) -> int:
    """The ledger's cost of one billed impression: its clearing CPM in micros / 1000, rounded up."""
    assert row.clearing_cpm is not None
    return impression_cost(int(Decimal(row.clearing_cpm) * 1_000_000))
