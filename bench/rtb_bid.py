"""RTB benchmark: `POST /openrtb2/bid` on `manage.py runkafka handler`, closed and open loop, beside `/bid`.

    .venv/bin/python bench/rtb_bid.py [--connections 64] [--seconds 30] [--rounds 2] [--rate 1000] [--profile]

Setup: the benchmark's own database (HELIOS_BENCH_RTB_DATABASE, default `helios_bench_rtb`) with
`seed_campaigns` (the house campaign and the demo campaigns) plus APP_CAMPAIGN, an in-app one; the
profiles role (`runprofiles`, gRPC) on the bench Redis DB, seeded with the demo users and
SYNTHETIC synthetic ones; the handler with HELIOS_CURRENCY_RATES (EUR floors convert); fresh topics.
bench/rtb_bodies.py writes BODIES OpenRTB 2.6 requests (site/app, 1-3 imps, floors, known and
unknown users, every privacy state, bcat/badv, tmax 120-300 ms).

Each round, on the one handler process, alternated (the open loop first: the closed loop's overload
can open the handler's profile circuit breaker for 30 s): (a) wrk closed loop (bench/rtb_bid.lua, 64
connections) against /openrtb2/bid: answers/s (200 + 204), p50/p99, other answers, the bid rate;
(b) bench/loadgen.py open loop at --rate against /openrtb2/bid: p99 from each request's due time
and the answers later than the request's own deadline (tmax - 20 ms, at most 100 ms); (c) the
intake's wrk run against /bid (bench/intake_runs.py). CPU per answer of the handler, the profiles
role, the broker and the machine; the handler's own counters (late answers, no-bid reasons,
profile lookups, unacknowledged bids). Result: bench/results/rtb.json, with the ratio rtb ÷ intake.

With --profile, a further 20 s wrk run on /openrtb2/bid is profiled with py-spy (bench/results/rtb.svg),
then 20 s of the open loop (bench/results/rtb-open.svg).
(Not bench/rtb.py: with bench/ on sys.path, as the tests put it, that name would hide the `rtb` app.)
"""

import argparse
import json
import os
import re
import subprocess
import tempfile
from pathlib import Path
from typing import Any

import rtb_bodies
from common import (
    PYTHON,
    QUICK,
    REPO,
    CpuMeter,
    Roles,
    broker_pid,
    cpu_ms_per_item,
    create_topics,
    delete_topics,
    load_average,
    log,
    machine,
    new_prefix,
    prepare_bench_database,
    process_tree,
    py_spy,
    role_env,
    seed_profiles,
    wait_until,
    write_result,
)
from intake_runs import Side
from intake_runs import measure as measure_intake
from rtb_results import TARGETS, counter_delta, results, rtb_counters
from wrk import run_wrk, wrk_figures

LUA = REPO / "bench" / "rtb_bid.lua"
DATABASE = os.environ.get("HELIOS_BENCH_RTB_DATABASE", "helios_bench_rtb")
BODIES = 2000
SYNTHETIC = 20_000
RATES = {"EUR": 1.08, "GBP": 1.27}
WARMUP_S = 2
PROFILE_S = 20
APP_CAMPAIGN: dict[str, Any] = {  # the fifth demo campaign: in-app only, fixed CPM
    "advertiser": {"name": "FitPulse Health", "adomain": "fitpulse.example"},
    "campaign": {
        "key": "bench-fitpulse-in-app", "name": "FitPulse - In-App Summer Challenge", "status": "active",
        "strategy": "fixed", "fixed_cpm_micros": 1_400_000, "total_budget_micros": 2_000_000_000,
        "daily_budget_micros": 100_000_000, "pacing": "asap", "cat": ["IAB7"],
        "app_bundles_include": ["com.fitpulse.tracker", "com.example.puzzlequest"], "device_types": [1, 4, 5],
    },
    "creatives": [
        {"crid": "bench-fitpulse-banner", "title": "Join the Summer Challenge", "media": "banner", "w": 320, "h": 50,
         "image_url": "https://cdn.helios.example/demo/fitpulse-320x50.png", "landing_url": "https://fitpulse.example/go"},
        {"crid": "bench-fitpulse-mrec", "title": "Move More, Win More", "media": "banner", "w": 300, "h": 250,
         "image_url": "https://cdn.helios.example/demo/fitpulse-300x250.png", "landing_url": "https://fitpulse.example/go"},
    ],
}  # fmt: skip
SEED_APP = (
    "import django, json, sys; django.setup(); from campaigns.seed import seed_campaign; "
    "seed_campaign(**json.loads(sys.argv[1]))"
)


def seed_campaigns(database: str) -> None:
    """The house and demo campaigns (`seed_campaigns`) and APP_CAMPAIGN into the bench database."""
    env = role_env(DATABASE_URL=database)
    subprocess.run([PYTHON, "manage.py", "seed_campaigns"], cwd=REPO, env=env, check=True, stdout=subprocess.DEVNULL)
    subprocess.run([PYTHON, "-c", SEED_APP, json.dumps(APP_CAMPAIGN)], cwd=REPO, env=env, check=True)


def run_rtb_wrk(url: str, bodies: Path, args: argparse.Namespace, seconds: int) -> dict[str, Any]:
    out, _ = run_wrk(url, LUA, threads=args.threads, connections=args.connections, seconds=seconds,
                     script_args=(str(bodies),))  # fmt: skip
    found = re.search(r"answers: (\d+)\s+bids: (\d+)\s+no-bids: (\d+)\s+other: (\d+)\s+answers/s: ([\d.]+)", out)
    if not found:
        raise RuntimeError(f"unexpected wrk output:\n{out}")
    answers, bids, no_bids, other = map(int, found.groups()[:4])
    return {"answers": answers, "bids": bids, "no_bids": no_bids, "other": other,
            "answers_per_s": float(found.group(5)), "bid_rate": round(bids / answers, 4) if answers else None,
            **wrk_figures(out)}  # fmt: skip


def _meter(roles: Roles) -> CpuMeter:
    broker = broker_pid()
    return CpuMeter({"handler": process_tree(roles.pid("handler")), "profiles": [roles.pid("profiles")],
                     "kafka": [broker] if broker else []})  # fmt: skip


def measure_closed(roles: Roles, url: str, bodies: Path, args: argparse.Namespace) -> dict[str, Any]:
    """(a) A warm-up, then one measured wrk run against /openrtb2/bid."""
    run_rtb_wrk(url, bodies, args, WARMUP_S)
    meter, before, load = _meter(roles), rtb_counters(roles.metrics("handler")), load_average()
    meter.start()
    result = run_rtb_wrk(url, bodies, args, args.seconds)
    cores = meter.stop()
    result |= {"side": "rtb", "load_average_during": load, "cpu_cores": cores,
               "cpu_ms_per_answer": cpu_ms_per_item(cores, result["answers_per_s"]),
               "handler": counter_delta(before, rtb_counters(roles.metrics("handler")))}  # fmt: skip
    log(f"  rtb   : {result['answers_per_s']:,.0f} answers/s, p50 {result.get('p50_ms')} ms, p99 "
        f"{result.get('p99_ms')} ms, bid rate {result['bid_rate']}, other {result['other']}, cores {cores} "
        f"(load {load})")  # fmt: skip
    return result


def open_loop(url: str, bodies: Path, rate: int, seconds: int) -> dict[str, Any]:
    """bench/loadgen.py (its own process) at a constant rate: its summary."""
    command = [PYTHON, "bench/loadgen.py", "--url", url, "--rate", str(rate), "--duration", str(seconds),
               "--bodies", str(bodies), "--json"]  # fmt: skip
    out = subprocess.run(command, cwd=REPO, capture_output=True, text=True, check=True).stdout
    return dict(json.loads(out.strip().splitlines()[-1]))


def measure_open(roles: Roles, url: str, bodies: Path, args: argparse.Namespace) -> dict[str, Any]:
    """(b) The open loop at --rate against /openrtb2/bid."""
    meter, before, load = _meter(roles), rtb_counters(roles.metrics("handler")), load_average()
    meter.start()
    client = open_loop(url, bodies, args.rate, args.seconds)
    cores = meter.stop()
    answers = client["answers"].get("200", 0) + client["answers"].get("204", 0)
    per_s = answers / args.seconds
    result = {
        "side": "rtb_open", "load_average_during": load, "rate_per_s": args.rate, "sent": client["sent"],
        "answers": answers, "bids": client["answers"].get("200", 0),
        "bid_rate": round(client["answers"].get("200", 0) / answers, 4) if answers else None,
        "other": sum(v for k, v in client["answers"].items() if k not in ("200", "204")) + client["not_sent"],
        "late_answers": client["late_answers"], "p50_ms": client["latency_p50_ms"],
        "p99_ms": client["latency_p99_ms"], "p99_9_ms": client["latency_p999_ms"], "max_ms": client["latency_max_ms"],
        "worst_send_lag_ms": client["worst_send_lag_ms"], "cpu_cores": cores,
        "cpu_ms_per_answer": cpu_ms_per_item(cores, per_s),
        "handler": counter_delta(before, rtb_counters(roles.metrics("handler"))),
    }  # fmt: skip
    log(f"  open  : {args.rate}/s, p50 {result['p50_ms']} ms, p99 {result['p99_ms']} ms, late {result['late_answers']}"
        f", other {result['other']}, cores {cores} (load {load})")  # fmt: skip
    return result


def run_all(
    args: argparse.Namespace, prefix: str, workdir: Path, database: str, bodies: Path
) -> tuple[list[dict[str, Any]], int]:
    """Starts profiles and the handler, alternates the measured runs, profiles if asked; stops them.
    Returns the runs and how often the handler's profile circuit breaker opened (its log says)."""
    roles = Roles(prefix, workdir, DATABASE_URL=database, HELIOS_CURRENCY_RATES=json.dumps(RATES))
    runs: list[dict[str, Any]] = []
    try:
        log(f"seeding {args.synthetic:,} synthetic profiles (and the demo users)")
        seed_profiles(roles.env, args.synthetic)
        roles.start("profiles")
        roles.start("handler")
        loaded = wait_until(lambda: roles.metrics("handler").value("helios_campaign_index_campaigns") >= 6, 30, 0.2)
        log(f"campaign index: {roles.metrics('handler').value('helios_campaign_index_campaigns'):.0f} campaigns"
            + ("" if loaded else " (expected 6)"))  # fmt: skip
        base = f"http://127.0.0.1:{roles.handler_port}"
        rtb_url, intake = (
            f"{base}/openrtb2/bid",
            Side("intake", f"{base}/bid", roles.pid("handler"), f"{prefix}bid_requests", roles),
        )
        log(f"warm-up 3 s; then {args.rounds} round(s) of {args.seconds} s: rtb open, rtb closed, intake, alternated")
        open_loop(rtb_url, bodies, args.rate, 3)  # not wrk: its overload may open the profile circuit breaker
        for _ in range(args.rounds):
            runs.append(measure_open(roles, rtb_url, bodies, args))
            runs.append(measure_closed(roles, rtb_url, bodies, args))
            runs.append(measure_intake(intake, args))
        if args.profile:
            log(f"profiling the handler for {PROFILE_S} s under the wrk load, then under the open loop")
            spy = py_spy(roles.pid("handler"), "rtb", PROFILE_S)
            run_rtb_wrk(rtb_url, bodies, args, PROFILE_S + 2)
            spy.wait(60)
            spy = py_spy(roles.pid("handler"), "rtb-open", PROFILE_S)
            open_loop(rtb_url, bodies, args.rate, PROFILE_S + 2)
            spy.wait(60)
    finally:
        roles.stop_all()
    return runs, roles.log("handler").count("circuit breaker for profiles opened")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--seconds", type=int, default=5 if QUICK else 30, help="per measured run")
    parser.add_argument("--rounds", type=int, default=2, help="rounds of (rtb closed, intake, rtb open)")
    parser.add_argument("--rate", type=int, default=TARGETS["open_rate_per_s"], help="open-loop requests/s")
    parser.add_argument("--bodies", type=int, default=BODIES, help="distinct OpenRTB bodies cycled through")
    parser.add_argument("--synthetic", type=int, default=2000 if QUICK else SYNTHETIC, help="synthetic profiles")
    parser.add_argument("--profile", action="store_true", help=f"also profile a {PROFILE_S} s run with py-spy")
    args = parser.parse_args()

    about = machine()
    prefix = new_prefix()
    workdir = Path(tempfile.mkdtemp(prefix="helios-bench-rtb-"))
    log(f"rtb: topics {prefix}*, database {DATABASE}, logs in {workdir}, load {load_average()}")
    database = prepare_bench_database(DATABASE)
    seed_campaigns(database)
    bodies = rtb_bodies.write_bodies(
        workdir / "bodies.jsonl", rtb_bodies.make_bodies(args.bodies, synthetic=args.synthetic)
    )
    create_topics(prefix)
    try:
        runs, breaker_opened = run_all(args, prefix, workdir, database, bodies)
    finally:
        delete_topics(prefix)
    result = results(args, runs, about, RATES) | {"profile_breaker_opened": breaker_opened}
    write_result("rtb", result)
    closed, open_loop = result["closed"], result["open"]
    log(
        f"rtb: {closed['answers_per_s']:,.0f} answers/s, p99 {closed['p99_ms']} ms, bid rate {closed['bid_rate']}; "
        f"open loop {args.rate}/s p99 {open_loop['p99_ms']} ms, late {open_loop['late_answers']}; intake "
        f"{result['intake']['accepted_per_s']:,.0f}/s, ratio {result['ratio_rtb_to_intake']}; met {result['met']}"
    )


if __name__ == "__main__":
    main()
