"""The ledger's arithmetic and key names, pure (no I/O): what the Lua scripts are handed.

Money is integer micros of USD. A bid's CPM in micros buys a thousand impressions, so one
impression costs CPM/1000 micros, rounded up (a reservation never under-counts, and a settled
clearing price at most the bid price never costs more than its reservation).
"""

import math
from dataclasses import dataclass
from typing import Protocol

import msgspec

IMPRESSIONS_PER_CPM = 1000


class Claims(Protocol):
    """What a notice tells the ledger (rtb.tokens.NoticeClaims satisfies it; campaigns cannot import rtb)."""

    @property
    def request_id(self) -> str: ...
    @property
    def imp_id(self) -> str: ...
    @property
    def bid_id(self) -> str: ...
    @property
    def campaign_id(self) -> int: ...
    @property
    def price_micros(self) -> int: ...
    @property
    def user_id(self) -> str | None: ...
    @property
    def issued_at(self) -> int: ...


@dataclass(frozen=True)
class LedgerSettings:
    prefix: str = "helios:ledger"
    notice_window_s: float = 900.0  # a reservation with no notice by then is released
    day_s: float = 86_400.0  # the length of a (UTC) day: shorter for tests and demos
    day_start_s: float = 0.0  # a day begins this long after the epoch's day boundaries (a time zone)
    pacing_burst: float = 0.01  # `even` pacing may run ahead of the line by this fraction of the daily budget
    marker_ttl_s: int = 172_800  # how long a settled/released bid id is remembered (> the notice token TTL)
    sweep_limit: int = 32  # expired reservations released per script call, at most
    timeout_s: float = 0.5  # socket timeout of every ledger call

    def __post_init__(self) -> None:
        if "{" in self.prefix or "}" in self.prefix:
            raise ValueError("the ledger prefix may not contain braces: the hash tag is {c<campaign id>}")


def impression_cost(cpm_micros: int) -> int:
    """One impression at `cpm_micros` CPM, in micros, rounded up."""
    return -(-cpm_micros // IMPRESSIONS_PER_CPM)


def day_of(now: float, config: LedgerSettings) -> int:
    """The number of the ledger's day `now` falls in: days of `day_s` seconds, the first of which
    began `day_start_s` after the epoch (18000 with 86400-second days: days from 05:00 UTC)."""
    return math.floor((now - config.day_start_s) / config.day_s)


def day_started_at(day: int, config: LedgerSettings) -> float:
    """When the ledger's day number `day` began, in unix seconds."""
    return day * config.day_s + config.day_start_s


def pacing_target(daily_micros: int, now: float, config: LedgerSettings) -> int:
    """What `even` pacing allows spent or reserved by `now`: the daily budget x elapsed/day."""
    elapsed = now - day_started_at(day_of(now, config), config)
    return math.floor(daily_micros * min(elapsed / config.day_s, 1.0))


def pacing_limit(daily_micros: int, now: float, config: LedgerSettings, cost: int) -> int:
    """The line plus the burst (at least one impression, so a campaign can start its day)."""
    burst = max(math.ceil(daily_micros * config.pacing_burst), cost)
    return pacing_target(daily_micros, now, config) + burst


class Keys:
    """Every key of one campaign, under one hash tag `{c<id>}`: one Redis Cluster slot per campaign."""

    def __init__(self, prefix: str, campaign_id: int) -> None:
        self.tag = f"{prefix}:{{c{campaign_id}}}"
        self.money = f"{self.tag}:m"  # hash: spent, reserved, d<day> (spent that day), late, late_micros, ...
        self.reservations = f"{self.tag}:r"  # hash: bid id -> "<cost>:<user held>"
        self.expiries = f"{self.tag}:x"  # zset: bid id by expiry time
        self.held = f"{self.tag}:h"  # hash: user -> open reservations (frequency cap)

    def base(self) -> list[str]:
        return [self.money, self.reservations, self.expiries, self.held]

    def billed(self, user_id: str | None) -> str:
        """The user's billed impressions in the cap's window (a placeholder key when no user)."""
        return f"{self.tag}:f:{user_id or ''}"

    def settled(self, bid_id: str) -> str:
        return f"{self.tag}:s:{bid_id}"

    def released(self, bid_id: str) -> str:
        return f"{self.tag}:l:{bid_id}"


class CampaignLedger(msgspec.Struct, frozen=True):
    """One campaign's money as the ledger has it at `now` (expired reservations released first)."""

    campaign_id: int
    spent_micros: int  # all time, late bills included
    spent_today_micros: int
    reserved_micros: int
    open_reservations: int
    late_bills: int  # billing notices that came after their notice window
    late_micros: int
    daily_budget_micros: int | None  # as the last reservation saw it
    pacing: str | None  # asap | even, as the last reservation saw it
    pacing_target_micros: int | None  # daily budget x elapsed/day (the `even` line), when a daily budget is known
    day: int  # the day's number (days of `day_s` seconds since the epoch + `day_start_s`)
    day_started_at: float  # unix seconds
    day_s: float
