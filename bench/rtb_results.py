"""bench/rtb_bid.py's figures: the handler's `/openrtb2/bid` counters (rtb/metrics.py), scraped and
differenced, and the summary of the runs written to bench/results/rtb.json."""

import argparse
from statistics import mean
from typing import Any

import rtb_bodies
from common import Metrics
from intake_runs import summarize as summarize_intake

TARGETS = {"answers_per_s": 3000, "p99_ms": 20.0, "open_rate_per_s": 1000, "open_p99_ms": 10.0, "late_answers": 0}
LATENCIES = ("p50_ms", "p90_ms", "p99_ms", "p99_9_ms")

# result family -> (sample name, label it is broken down by; "" for a plain counter)
FAMILIES = {
    "requests": ("helios_rtb_requests_total", "status"),
    "late": ("helios_rtb_late_answers_total", ""),
    "no_bids_by_nbr": ("helios_rtb_no_bids_total", "nbr"),
    "bids_by_campaign": ("helios_rtb_bids_total", "campaign"),
    "privacy": ("helios_rtb_privacy_total", "state"),
    "profile_lookups": ("helios_rtb_profile_lookups_total", "result"),
    "unacknowledged": ("helios_rtb_unacknowledged_total", "reason"),
}


def rtb_counters(metrics: Metrics) -> dict[str, dict[str, float]]:
    """{family: {label value: count}} of one scrape (a plain counter: {"total": count})."""
    out: dict[str, dict[str, float]] = {}
    for family, (sample, label) in FAMILIES.items():
        values: dict[str, float] = {}
        for (name, labels), value in metrics.items():
            if name == sample:
                key = dict(labels).get(label, "") if label else "total"
                values[key] = values.get(key, 0.0) + value
        out[family] = values
    return out


def counter_delta(before: dict[str, dict[str, float]], after: dict[str, dict[str, float]]) -> dict[str, Any]:
    """What was counted between two scrapes (zero entries left out)."""
    delta: dict[str, Any] = {}
    for family, values in after.items():
        old = before.get(family, {})
        delta[family] = {k: v - old.get(k, 0.0) for k, v in sorted(values.items()) if v - old.get(k, 0.0)}
    return delta


def _mean(runs: list[dict[str, Any]], key: str, digits: int = 2) -> float | None:
    values = [r[key] for r in runs if r.get(key) is not None]
    return round(mean(values), digits) if values else None


def summarize(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """Mean rates, latencies and CPU over the runs of one kind; summed counts."""
    out: dict[str, Any] = {"runs": len(runs)}
    for key in ("answers", "bids", "no_bids", "other", "late_answers", "sent"):
        if key in runs[0]:
            out[key] = sum(r[key] for r in runs)
    for key in ("answers_per_s", "bid_rate", *LATENCIES, "max_ms", "worst_send_lag_ms"):
        if key in runs[0]:
            out[key] = _mean(runs, key, 4 if key == "bid_rate" else 2)
    out["cpu_ms_per_answer"] = {
        k: round(mean(r["cpu_ms_per_answer"][k] or 0 for r in runs), 3) for k in runs[0]["cpu_ms_per_answer"]
    }
    out["load_averages"] = [r["load_average_during"] for r in runs]
    out["handler"] = {
        family: {k: sum(r["handler"][family].get(k, 0) for r in runs) for k in runs[-1]["handler"][family]}
        for family in runs[-1]["handler"]
    }
    return out


def results(
    args: argparse.Namespace, runs: list[dict[str, Any]], about: dict[str, Any], rates: dict[str, float]
) -> dict[str, Any]:
    """bench/results/rtb.json: per kind of run (closed, open, intake) the summary, the ratio, the targets met."""
    closed = summarize([r for r in runs if r["side"] == "rtb"])
    open_loop = summarize([r for r in runs if r["side"] == "rtb_open"])
    intake = summarize_intake([r for r in runs if r["side"] == "intake"])
    ratio = round(closed["answers_per_s"] / intake["accepted_per_s"], 3) if intake["accepted_per_s"] else None
    met = {
        "answers_per_s": closed["answers_per_s"] >= TARGETS["answers_per_s"],
        "p99_ms": closed["p99_ms"] is not None and closed["p99_ms"] <= TARGETS["p99_ms"],
        "open_p99_ms": open_loop["p99_ms"] is not None and open_loop["p99_ms"] <= TARGETS["open_p99_ms"],
        "late_answers": open_loop["late_answers"] <= TARGETS["late_answers"],
    }
    return {
        "machine": about,
        "load_average_during": runs[0]["load_average_during"],
        "command": f"wrk -t{args.threads} -c{args.connections} -d{args.seconds}s --latency -s bench/rtb_bid.lua "
        "<handler>/openrtb2/bid -- <bodies>",
        "open_loop_command": f"bench/loadgen.py --rate {args.rate} --duration {args.seconds} --bodies <bodies> "
        "(64 connections)",
        "setup": {
            "server": "manage.py runkafka handler (uvicorn, httptools, uvloop), 1 process; runprofiles (gRPC, Redis)",
            "campaigns": "house + 4 seed_campaigns demos + 1 in-app (bench/rtb_bid.py's APP_CAMPAIGN)",
            "bodies": args.bodies,
            "synthetic_profiles": args.synthetic,
            "currency_rates": rates,
            "connections": args.connections,
            "wrk_threads": args.threads,
            "seconds": args.seconds,
            "rounds": args.rounds,
            "open_rate_per_s": args.rate,
            "partitions": 3,
        },
        "bodies_mix": rtb_bodies.mix(rtb_bodies.make_bodies(args.bodies, synthetic=args.synthetic)),
        "closed": closed,
        "open": open_loop,
        "intake": intake,
        "ratio_rtb_to_intake": ratio,
        "runs": runs,
        "profile": ["bench/results/rtb.svg", "bench/results/rtb-open.svg"] if args.profile else None,
        "targets": TARGETS,
        "met": met,
    }
