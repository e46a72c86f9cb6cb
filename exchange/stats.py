"""What the simulated exchange counts while it runs, and the summary it prints (and writes as JSON)."""

import math
from collections import Counter
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

NOTICE_KINDS = ("win", "bill", "loss")


def percentile(values: list[float], q: float) -> float | None:
    """The nearest-rank `q`-th percentile (0 < q <= 100) of `values`, None when there are none."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[max(0, math.ceil(q / 100 * len(ordered)) - 1)]


@dataclass
class Stats:
    requests: int = 0  # sent
    answered: int = 0  # answered within tmax
    bid_answers: int = 0  # 200s
    no_bid_answers: int = 0  # 204s
    timeouts: int = 0  # no answer by tmax: dropped, as an exchange does
    errors: Counter[str] = field(default_factory=Counter)  # connection failures, unexpected statuses
    invalid_answers: Counter[str] = field(default_factory=Counter)  # answer-wide violations, by check
    bids: int = 0  # bids received in time
    valid_bids: int = 0
    invalid_bids: int = 0
    invalid_by_reason: Counter[str] = field(default_factory=Counter)  # a bid counts once per check it fails
    impressions: int = 0  # impressions auctioned (every impression of every request answered in time)
    wins: int = 0  # Helios's bids that won
    losses: Counter[int] = field(default_factory=Counter)  # Helios's bids that lost, by loss code
    spend: Decimal = Decimal(0)  # sum of Helios's clearing prices / 1000
    latencies_ms: list[float] = field(default_factory=list)  # of the answers received in time
    notices_sent: Counter[str] = field(default_factory=Counter)  # win | bill | loss (each retry is not one more)
    notice_answers: dict[str, Counter[str]] = field(default_factory=lambda: {k: Counter() for k in NOTICE_KINDS})
    notice_retries: Counter[str] = field(default_factory=Counter)  # tries again of notices not delivered
    notices_undelivered: Counter[str] = field(default_factory=Counter)  # given up after the retry time
    billed: int = 0  # wins with a billing notice answered 2xx
    billed_spend: Decimal = Decimal(0)  # their clearing prices / 1000
    unsubstituted: int = 0  # notice URLs or markups still holding a ${...} after substitution
    behind_ms: float = 0.0  # the most the open loop fell behind its schedule

    @property
    def bid_rate(self) -> float:
        """Share of the requests answered in time with a bid."""
        return self.bid_answers / self.requests if self.requests else 0.0

    def summary(self, *, rate: float, duration_s: float, elapsed_s: float, auction: str) -> dict[str, Any]:
        return {
            "rate": rate,
            "duration_s": duration_s,
            "elapsed_s": round(elapsed_s, 3),
            "auction": auction,
            "requests": self.requests,
            "answered": self.answered,
            "bids_answers": self.bid_answers,
            "no_bid_answers": self.no_bid_answers,
            "bid_rate": round(self.bid_rate, 4),
            "timeouts": self.timeouts,
            "errors": dict(self.errors),
            "invalid_answers": dict(self.invalid_answers),
            "bids": self.bids,
            "valid_bids": self.valid_bids,
            "invalid_bids": self.invalid_bids,
            "invalid_bids_by_reason": dict(self.invalid_by_reason),
            "impressions": self.impressions,
            "wins": self.wins,
            "losses": {str(code): n for code, n in sorted(self.losses.items())},
            "win_rate": round(self.wins / self.valid_bids, 4) if self.valid_bids else 0.0,
            "spend": float(self.spend),
            "answer_ms_p50": _round(percentile(self.latencies_ms, 50)),
            "answer_ms_p99": _round(percentile(self.latencies_ms, 99)),
            "notices_sent": {k: self.notices_sent[k] for k in NOTICE_KINDS},
            "notice_answers": {k: dict(sorted(self.notice_answers[k].items())) for k in NOTICE_KINDS},
            "notice_retries": {k: self.notice_retries[k] for k in NOTICE_KINDS},
            "notices_undelivered": {k: self.notices_undelivered[k] for k in NOTICE_KINDS},
            "billed": self.billed,
            "billed_spend": float(self.billed_spend),
            "unsubstituted_macros": self.unsubstituted,
            "max_behind_schedule_ms": round(self.behind_ms, 1),
        }


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 2)


def render(summary: dict[str, Any]) -> str:
    """The summary as the lines `manage.py exchange` prints."""
    s = summary
    lines = [
        f"exchange: {s['auction']}-price auction, {s['rate']:g} requests/s for {s['duration_s']:g} s "
        f"({s['elapsed_s']:.1f} s with the last notices)",
        f"requests          {s['requests']}  (answered in time {s['answered']}, bids {s['bids_answers']}, "
        f"no bid {s['no_bid_answers']})",
        f"bid rate          {s['bid_rate']:.1%}",
        f"timeouts          {s['timeouts']}  (later than tmax: dropped)",
        f"errors            {_counts(s['errors'])}",
        f"answers voided    {_counts(s['invalid_answers'])}",
        f"bids              {s['bids']}  (valid {s['valid_bids']}, invalid {s['invalid_bids']})",
        f"invalid by reason {_counts(s['invalid_bids_by_reason'])}",
        f"wins              {s['wins']}  (win rate {s['win_rate']:.1%} of valid bids)",
        f"losses            {_counts(s['losses'], 'code ')}",
        f"spend             {s['spend']:.6f}  (sum of clearing CPMs / 1000)",
        f"answer ms         p50 {_ms(s['answer_ms_p50'])}  p99 {_ms(s['answer_ms_p99'])}",
    ]
    for kind in NOTICE_KINDS:
        answers = _counts(s["notice_answers"][kind], "HTTP ")
        retried = f"; retries {s['notice_retries'][kind]}" if s["notice_retries"][kind] else ""
        lost = f"; undelivered {s['notices_undelivered'][kind]}" if s["notices_undelivered"][kind] else ""
        lines.append(f"{kind + ' notices':<17} {s['notices_sent'][kind]} sent; answers: {answers}{retried}{lost}")
    lines.append(f"billed            {s['billed']}  (wins with a bill delivered; {s['billed_spend']:.6f} spent)")
    if s["unsubstituted_macros"]:
        lines.append(f"unsubstituted     {s['unsubstituted_macros']} URLs or markups kept a ${{...}}")
    lines.append(f"schedule          at most {s['max_behind_schedule_ms']} ms behind")
    return "\n".join(lines)


def _counts(counts: dict[Any, int], prefix: str = "") -> str:
    return ", ".join(f"{prefix}{key}: {n}" for key, n in sorted(counts.items(), key=str)) or "none"


def _ms(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.1f}"
