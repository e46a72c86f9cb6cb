"""The ledger on Redis (`redis.asyncio`): reserve at bid, settle on billing, release on loss (SPEC §14).

Every call is one Lua script over one campaign's keys (rules.Keys: one hash tag, so one Cluster
slot), run by EVALSHA and re-loaded on NOSCRIPT (redis-py's registered scripts). Scripts:
`reserve` (release expired reservations, then check total, daily, pacing and frequency room and
hold the cost), `settle` (once per bid id: spend the clearing cost, drop the reservation, count the
user's billed impression), `release` (once: drop the reservation), `state` (expire, then read).

Budgets: total spent + open reservations + this impression <= the total budget; today's spent +
every open reservation (one made yesterday may still settle today) + this impression <= the daily
budget, and, pacing `even`, <= the line (daily x elapsed/day) + the burst. Frequency: billed
impressions in the cap's window + the user's open reservations < the cap, so that concurrent bids
for one user cannot all be billed past it.

`reserve` never raises: an unreachable or slow ledger is no room (SPEC §12). `settle` and
`release` raise `redis.RedisError` (or TimeoutError), so that their caller retries the notice.
`ready` is `/readyz`'s check of the ledger's own Redis (a synchronous PING, from any thread).
"""

import asyncio
import logging
from collections.abc import Callable
from importlib import resources
from typing import Any

import redis
import redis.asyncio
from django.conf import settings
from prometheus_client import Counter
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff

from campaigns.index import CampaignSpec
from campaigns.ledger.rules import (
    CampaignLedger,
    Claims,
    Keys,
    LedgerSettings,
    day_of,
    day_started_at,
    impression_cost,
    pacing_limit,
    pacing_target,
)

logger = logging.getLogger(__name__)

RESERVES = Counter(
    "helios_ledger_reserves_total",
    "Ledger reservations by result: ok, total, daily, pacing, frequency (no room), unavailable, timeout",
    ["result"],
)
NOTICES = Counter("helios_ledger_notices_total", "Ledger settles and releases by result", ["op", "result"])

KEEP_DAYS = 8  # a day's spend field is dropped this many days later


def _script(name: str) -> str:
    folder = resources.files(__package__)
    return folder.joinpath("common.lua").read_text() + "\n" + folder.joinpath(f"{name}.lua").read_text()


def limited(campaign: CampaignSpec) -> bool:
    """A campaign with a budget or a frequency cap; the others (the house) never touch Redis."""
    return (
        campaign.total_budget_micros is not None
        or campaign.daily_budget_micros is not None
        or (campaign.frequency_cap is not None and bool(campaign.frequency_window_s))
    )


def ledger_settings() -> LedgerSettings:
    return LedgerSettings(
        prefix=settings.HELIOS_LEDGER_PREFIX,
        notice_window_s=settings.HELIOS_LEDGER_NOTICE_WINDOW_S,
        day_s=settings.HELIOS_LEDGER_DAY_S,
        day_start_s=settings.HELIOS_LEDGER_DAY_START_S,
        pacing_burst=settings.HELIOS_LEDGER_PACING_BURST,
        marker_ttl_s=settings.HELIOS_LEDGER_MARKER_TTL_S,
        sweep_limit=settings.HELIOS_LEDGER_SWEEP_LIMIT,
        timeout_s=settings.HELIOS_LEDGER_TIMEOUT_S,
    )


_fake_server: Any = None


def ledger_client(config: LedgerSettings) -> Any:
    """A new client (redis.asyncio clients belong to the event loop that first uses them)."""
    global _fake_server
    kind = settings.HELIOS_LEDGER_STORE
    if kind == "fake":  # embedded mode: one in-process server per process, Lua by lupa
        import fakeredis

        _fake_server = _fake_server or fakeredis.FakeServer()
        return fakeredis.FakeAsyncRedis(server=_fake_server)
    if kind != "redis":
        raise ValueError(f"HELIOS_LEDGER_STORE must be 'redis' or 'fake', not {kind!r}")
    url = settings.HELIOS_LEDGER_REDIS_URL or settings.REDIS_URL
    timeout = config.timeout_s
    if settings.HELIOS_LEDGER_CLUSTER:
        return redis.asyncio.RedisCluster.from_url(url, socket_timeout=timeout, socket_connect_timeout=timeout)
    # One retry on a broken connection (a restarted Redis): every script is safe to run twice.
    retry = Retry(NoBackoff(), 1, supported_errors=(redis.ConnectionError,))
    return redis.asyncio.Redis.from_url(url, retry=retry, socket_timeout=timeout, socket_connect_timeout=timeout)


def ledger_ready() -> bool:
    """A PING of the Redis the settings give the ledger (HELIOS_LEDGER_REDIS_URL, else REDIS_URL), 1 s
    timeouts; raises when it does not answer. Embedded mode's in-process store is always there."""
    if settings.HELIOS_LEDGER_STORE == "fake":
        return True
    url = settings.HELIOS_LEDGER_REDIS_URL or settings.REDIS_URL
    kind = redis.RedisCluster if settings.HELIOS_LEDGER_CLUSTER else redis.Redis
    with kind.from_url(url, socket_connect_timeout=1, socket_timeout=1) as client:
        return bool(client.ping())


def _always() -> bool:
    return True


class Ledger:
    def __init__(
        self, client: Any, config: LedgerSettings | None = None, *, ready: Callable[[], bool] = _always
    ) -> None:
        self.client = client
        self.config = config or LedgerSettings()
        self.ready = ready  # whether the client's server answers (`/readyz`); the caller knows how to ask
        self._reserve = client.register_script(_script("reserve"))
        self._settle = client.register_script(_script("settle"))
        self._release = client.register_script(_script("release"))
        self._state = client.register_script(_script("state"))

    @classmethod
    def from_settings(cls) -> "Ledger":
        config = ledger_settings()
        return cls(ledger_client(config), config, ready=ledger_ready)

    def keys(self, campaign_id: int) -> Keys:
        return Keys(self.config.prefix, campaign_id)

    async def close(self) -> None:
        await self.client.aclose()

    async def reserve(
        self,
        campaign: CampaignSpec,
        *,
        bid_id: str,
        price_micros: int,
        user_id: str | None,
        now: float,
        timeout_s: float | None = None,
    ) -> bool:
        """Holds one impression at `price_micros` CPM for `campaign` if it has budget, pacing and
        frequency room; False when not, and when the ledger is unreachable or slower than `timeout_s`."""
        if not limited(campaign):
            return True
        call = self._reserve_call(campaign, bid_id=bid_id, price_micros=price_micros, user_id=user_id, now=now)
        try:
            result = await asyncio.wait_for(call, timeout_s) if timeout_s is not None else await call
        except TimeoutError:
            RESERVES.labels("timeout").inc()
            return False
        except (redis.RedisError, OSError) as exc:
            RESERVES.labels("unavailable").inc()
            logger.warning("ledger unreachable, no bid for campaign %s: %s", campaign.id, exc)
            return False
        reason = result.decode() if isinstance(result, bytes) else str(result)
        RESERVES.labels(reason).inc()
        return reason == "ok"

    async def _reserve_call(
        self, campaign: CampaignSpec, *, bid_id: str, price_micros: int, user_id: str | None, now: float
    ) -> Any:
        config, keys = self.config, self.keys(campaign.id)
        cost = impression_cost(price_micros)
        daily = campaign.daily_budget_micros
        capped = campaign.frequency_cap is not None and bool(campaign.frequency_window_s)
        pace = pacing_limit(daily, now, config, cost) if daily is not None and campaign.pacing == "even" else -1
        args = [
            bid_id, cost, repr(now), repr(now + config.notice_window_s), _or_none(campaign.total_budget_micros),
            _or_none(daily), f"d{day_of(now, config)}", pace,
            campaign.frequency_cap if capped else -1, user_id or "", config.sweep_limit,
            campaign.frequency_window_s or 0, campaign.pacing,
        ]  # fmt: skip
        return await self._reserve(keys=[*keys.base(), keys.billed(user_id)], args=args)

    async def settle(self, claims: Claims, *, clearing_micros: int, now: float) -> str:
        """Spends the clearing price's impression cost once per bid id: "applied", "late" (after its
        notice window: spent all the same, and counted) or "duplicate" (nothing changes)."""
        keys, config = self.keys(claims.campaign_id), self.config
        day = day_of(now, config)
        late = now >= claims.issued_at + config.notice_window_s
        args = [
            claims.bid_id, impression_cost(clearing_micros), f"d{day}", config.marker_ttl_s, int(late),
            f"d{day - KEEP_DAYS}", int(bool(claims.user_id)),
        ]  # fmt: skip
        all_keys = [*keys.base(), keys.billed(claims.user_id), keys.settled(claims.bid_id)]
        result = _text(await self._settle(keys=all_keys, args=args))
        NOTICES.labels("settle", result).inc()
        return result

    async def release(self, claims: Claims, *, now: float) -> str:
        """Drops the bid's reservation: "applied", "duplicate" (already settled or released) or "none"."""
        keys = self.keys(claims.campaign_id)
        all_keys = [*keys.base(), keys.settled(claims.bid_id), keys.released(claims.bid_id)]
        result = _text(await self._release(keys=all_keys, args=[claims.bid_id, self.config.marker_ttl_s]))
        NOTICES.labels("release", result).inc()
        return result

    async def state(self, campaign_id: int, *, now: float) -> CampaignLedger:
        """The campaign's money now, after releasing its expired reservations."""
        keys, config = self.keys(campaign_id), self.config
        day = day_of(now, config)
        swept = config.sweep_limit
        while swept >= config.sweep_limit:  # many expired at once: release them all, a bounded batch a call
            raw = await self._state(keys=keys.base(), args=[repr(now), config.sweep_limit, f"d{day}"])
            swept = int(raw[0])
        daily = _int_or_none(raw[7])
        pacing = _text(raw[8]) if raw[8] is not None else None
        return CampaignLedger(
            campaign_id=campaign_id,
            spent_micros=_int(raw[2]),
            reserved_micros=_int(raw[3]),
            spent_today_micros=_int(raw[4]),
            open_reservations=int(raw[1]),
            late_bills=_int(raw[5]),
            late_micros=_int(raw[6]),
            daily_budget_micros=daily,
            pacing=pacing,
            pacing_target_micros=pacing_target(daily, now, config) if daily is not None else None,
            day=day,
            day_started_at=day_started_at(day, config),
            day_s=config.day_s,
        )


def _or_none(value: int | None) -> int:
    return -1 if value is None else value


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _int(value: Any) -> int:
    return 0 if value is None else int(value)


def _int_or_none(value: Any) -> int | None:
    if value is None or int(value) < 0:
        return None
    return int(value)
