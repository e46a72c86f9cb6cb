"""Helpers for the ledger tests: campaigns with budgets, claims, a ledger under a key prefix of its own."""

import asyncio
import uuid
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, replace
from typing import Any, TypeVar

import redis
import redis.asyncio
from django.conf import settings

from campaigns.index import CampaignSpec
from campaigns.ledger import Ledger, LedgerSettings

T = TypeVar("T")
CPM = 2_000_000  # $2 CPM: one impression costs 2,000 micros


def spec(cid: int = 7, **fields: Any) -> CampaignSpec:
    base = CampaignSpec(
        id=cid, key=None, name=f"c{cid}", advertiser_id=1, adomain="adv.example", start_at=None, end_at=None,
        total_budget_micros=None, daily_budget_micros=None, pacing="asap", strategy="fixed",
        fixed_cpm_micros=CPM, tier_multiplier=1.0, max_cpm_micros=None, cat=(), site_domains_include=frozenset(),
        site_domains_exclude=frozenset(), app_bundles_include=frozenset(), app_bundles_exclude=frozenset(),
        interest_categories=frozenset(), min_interest_score=0.0, countries=frozenset(), device_types=frozenset(),
        hours_utc=frozenset(), frequency_cap=None, frequency_window_s=None, creatives=(),
    )  # fmt: skip
    import msgspec

    return msgspec.structs.replace(base, **fields)


@dataclass(frozen=True)
class Claims:
    """What a notice carries (the fields of rtb.tokens.NoticeClaims the ledger reads)."""

    bid_id: str
    campaign_id: int
    price_micros: int = CPM
    user_id: str | None = None
    issued_at: int = 1_000_000
    request_id: str = "r"
    imp_id: str = "1"


def claims(bid_id: str, campaign: CampaignSpec, **fields: Any) -> Claims:
    return replace(Claims(bid_id=bid_id, campaign_id=campaign.id), **fields)


def new_prefix() -> str:
    return f"HELIOS_i16l:{uuid.uuid4().hex[:12]}"


def make_ledger(prefix: str, url: str | None = None, **config: Any) -> Ledger:
    client = redis.asyncio.Redis.from_url(url or settings.REDIS_URL, socket_timeout=2, socket_connect_timeout=2)
    return Ledger(client, LedgerSettings(prefix=prefix, **config))


def run(prefix: str, body: Callable[[Ledger], Awaitable[T]], **config: Any) -> T:
    """Runs `body(ledger)` on a fresh event loop with a ledger under `prefix`."""

    async def main() -> T:
        ledger = make_ledger(prefix, **config)
        try:
            return await body(ledger)
        finally:
            await ledger.close()

    return asyncio.run(main())


def drop_keys(prefix: str) -> None:
    client = redis.Redis.from_url(settings.REDIS_URL)
    keys = list(client.scan_iter(match=f"{prefix}:*", count=1000))
    if keys:
        client.delete(*keys)


def prefixed() -> Iterator[str]:
    prefix = new_prefix()
    yield prefix
    drop_keys(prefix)
