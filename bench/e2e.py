"""End-to-end benchmark: stepped open-loop load against the whole pipeline, every role its own process.

    .venv/bin/python bench/e2e.py [--steps 250,500,1000,...] [--seconds 30] [--profile]

Starts profiles, outcomes, auction, bidder and handler as `manage.py` processes (like
tests/e2e/harness.py) on fresh topics, the benchmark database and Redis DB 12 (demo users seeded),
then runs bench/loadgen.py (a separate process) at each rate in turn. For each step:

- latency received -> stored: the outcomes role's `helios_pipeline_latency_seconds` histogram,
  scraped after the step's warm-up and just before the generator stops; p50/p99 by linear
  interpolation inside the buckets of the difference (Prometheus' histogram_quantile);
- sustained: over the same window, the bidder consumed >= 95 % of the requests the handler
  accepted and the outcomes role stored >= 95 % of the impressions the bidder priced, the backlog
  left when the generator stopped drains within DRAIN_OK_S, the generator kept its rate and
  < 0.1 % of requests were answered other than 202.

Over the same window, the CPU of every role process, the load generator, the Kafka broker, the
PostgreSQL server (all its processes, exited backends included) and the whole machine
(/proc/<pid>/stat, /proc/stat): in cores and in CPU milliseconds per accepted bid.

A step passes when it is sustained with p99 <= 100 ms. The result is the highest passing rate and
the p50 at 1,000 bids/s; bench/results/e2e.json. Stops after two failed steps in a row (or a
backlog that does not drain within a minute), once the 1,000 bids/s step has run.

With --profile (after the steps), the pipeline runs at --profile-rate while py-spy records the
bidder, auction and outcomes roles for 20 s: bench/results/e2e-{bidder,auction,outcomes}.svg.
"""

import argparse
import json
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

from common import (
    PYTHON,
    QUICK,
    REPO,
    CpuMeter,
    Metrics,
    Roles,
    bucket_delta,
    cpu_ms_per_item,
    create_topics,
    delete_topics,
    flush_redis,
    histogram_quantile,
    load_average,
    log,
    machine,
    new_prefix,
    prepare_bench_database,
    py_spy,
    seed_profiles,
    service_pids,
    truncate_outcomes,
    write_result,
)

FULL_STEPS = (100, 250, 500, 1000, 1500, 2000, 2500, 3000, 4000, 5000, 6000, 8000)
QUICK_STEPS = (250, 1000, 2000)
LATENCY = "helios_pipeline_latency_seconds"
# Issue 17's targets: >= 2,000 bids/s with p99 <= 100 ms; p50 <= 25 ms at 1,000/s; p50 <= 10 ms
# and p99 <= 50 ms at 100/s.
TARGET_RATE = 2000
TARGET_P99_MS = 100.0
TARGET_P50_AT_1000_MS = 25.0
P50_RATE = 1000
LOW_RATE = 100
TARGET_P50_AT_100_MS = 10.0
TARGET_P99_AT_100_MS = 50.0
KEEP_UP = 0.95
DRAIN_OK_S = 2.0
DRAIN_MAX_S = 60.0
MAX_NOT_202 = 0.001
PROFILE_S = 20


class Pipeline:
    """The counters that say how far each stage got."""

    def __init__(self, roles: Roles) -> None:
        self.roles = roles

    def snapshot(self) -> dict[str, Any]:
        handler, bidder, outcomes = (self.roles.metrics(r) for r in ("handler", "bidder", "outcomes"))
        return {
            "t": time.monotonic(),
            "accepted": handler.value("bid_requests_total", status="202"),
            "consumed": bidder.value("helios_messages_consumed_total"),
            "priced": bidder.value("bid_requests_processed_total"),
            "stored": outcomes.value("helios_outcomes_stored_total"),
            "latency": outcomes.buckets(LATENCY),
            "enrichment": _labels(bidder, "user_profile_enrichment_total", "status"),
        }

    def drained(self, snap: dict[str, Any]) -> bool:
        return bool(snap["consumed"] >= snap["accepted"] and snap["stored"] >= snap["priced"])


def _labels(metrics: Metrics, name: str, label: str) -> dict[str, float]:
    out: dict[str, float] = {}
    for (sample, labels), value in metrics.items():
        if sample == name:
            out[dict(labels).get(label, "")] = value
    return out


def loadgen(url: str, rate: float, seconds: float) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [PYTHON, "bench/loadgen.py", "--url", url, "--rate", str(rate), "--duration", str(seconds), "--json"],
        cwd=REPO,
        stdout=subprocess.PIPE,
        text=True,
    )


STAGES_SQL = """
SELECT count(*),
  percentile_cont(ARRAY[0.5, 0.99]) WITHIN GROUP (ORDER BY extract(epoch FROM
    ((raw_data->>'timestamp')::timestamptz - "timestamp")) * 1000),
  percentile_cont(ARRAY[0.5, 0.99]) WITHIN GROUP (ORDER BY extract(epoch FROM
    (auction_timestamp - (raw_data->>'timestamp')::timestamptz)) * 1000),
  percentile_cont(ARRAY[0.5, 0.99]) WITHIN GROUP (ORDER BY extract(epoch FROM (created_at - auction_timestamp)) * 1000)
FROM outcomes_auctionoutcome WHERE created_at >= to_timestamp(%s) AND created_at < to_timestamp(%s)
"""


def stage_latencies(database: str, start: float, end: float) -> dict[str, Any]:
    """Where the time goes, from the stored rows written in [start, end): received -> priced (the
    bidder's timestamp), priced -> auctioned, auctioned -> the outcomes batch's write began
    (`created_at`); p50 and p99 in ms. Times have millisecond resolution."""
    import psycopg2

    conn = psycopg2.connect(database)
    try:
        with conn.cursor() as cursor:
            cursor.execute(STAGES_SQL, (start, end))
            count, priced, auctioned, batched = cursor.fetchone()
    finally:
        conn.close()
    if not count:
        return {"rows": 0}

    def pair(values: list[float] | None) -> list[float | None]:
        return [None if v is None else round(v, 1) for v in (values or [None, None])]

    return {
        "rows": count,
        "received_to_priced_ms": pair(priced),
        "priced_to_auctioned_ms": pair(auctioned),
        "auctioned_to_write_start_ms": pair(batched),
    }


def run_step(pipeline: Pipeline, url: str, rate: float, seconds: float, database: str) -> dict[str, Any]:
    warmup_s = max(2.0, seconds / 5)
    started = time.monotonic()
    gen = loadgen(url, rate, seconds)
    meter = CpuMeter({**pipeline.roles.pids(), "loadgen": [gen.pid], **service_pids()})
    time.sleep(warmup_s + 0.5)  # + the generator's own start
    a = pipeline.snapshot()
    a_wall = time.time()
    meter.start()
    time.sleep(max(started + seconds + 0.3 - time.monotonic(), 0.5))
    b = pipeline.snapshot()
    b_wall = time.time()
    cores = meter.stop()
    client = json.loads((gen.communicate(timeout=seconds + 60)[0] or "{}").strip().splitlines()[-1])
    drain_started = time.monotonic()
    while True:
        c = pipeline.snapshot()
        if pipeline.drained(c) or time.monotonic() - drain_started > DRAIN_MAX_S:
            break
        time.sleep(0.1)
    drain_s = round(c["t"] - b["t"], 2) if pipeline.drained(c) else None

    window_s = b["t"] - a["t"]
    latency = bucket_delta(a["latency"], b["latency"])
    p50, p99 = histogram_quantile(0.5, latency), histogram_quantile(0.99, latency)
    accepted_rate = (b["accepted"] - a["accepted"]) / window_s
    consumed_rate = (b["consumed"] - a["consumed"]) / window_s
    priced_rate = (b["priced"] - a["priced"]) / window_s
    stored_rate = (b["stored"] - a["stored"]) / window_s
    backlog_requests = b["accepted"] - b["consumed"]
    backlog_impressions = b["priced"] - b["stored"]
    checks = {
        "bidder_keeps_up": consumed_rate >= KEEP_UP * accepted_rate,
        "outcomes_keep_up": stored_rate >= KEEP_UP * priced_rate,
        "backlog_drains": drain_s is not None and drain_s <= DRAIN_OK_S,
        "generator_kept_rate": client.get("rate_per_s", 0) >= KEEP_UP * rate,
        "answers_202": client.get("rejected", 1) <= MAX_NOT_202 * max(client.get("scheduled", 1), 1),
    }
    sustained = all(checks.values())
    role_names = [name for name in pipeline.roles.pids() if name in cores]
    per_bid = cpu_ms_per_item({**cores, "roles": sum(cores[name] for name in role_names)}, accepted_rate)
    step = {
        "rate_per_s": rate,
        "seconds": seconds,
        "window_s": round(window_s, 2),
        "latency_p50_ms": None if p50 is None else round(p50 * 1000, 1),
        "latency_p99_ms": None if p99 is None else round(p99 * 1000, 1),
        "latency_observations": latency[-1][1] if latency else 0,
        "latency_over_10s": (latency[-1][1] - latency[-2][1]) if len(latency) > 1 else 0,
        "accepted_per_s": round(accepted_rate, 1),
        "consumed_per_s": round(consumed_rate, 1),
        "impressions_priced_per_s": round(priced_rate, 1),
        "stored_per_s": round(stored_rate, 1),
        "backlog_at_stop": {"requests": backlog_requests, "impressions": backlog_impressions},
        "drain_s": drain_s,
        "checks": checks,
        "sustained": sustained,
        "passed": bool(sustained and p99 is not None and p99 * 1000 <= TARGET_P99_MS),
        "cpu_cores": cores,
        "cpu_ms_per_bid": per_bid,
        "stages_p50_p99": stage_latencies(database, a_wall, b_wall),
        "enrichment": {k: c["enrichment"].get(k, 0) - a["enrichment"].get(k, 0) for k in c["enrichment"]},
        "client": client,
        "load_average": load_average(),
    }
    log(
        f"  {rate:>6.0f}/s: p50 {step['latency_p50_ms']} ms p99 {step['latency_p99_ms']} ms, "
        f"accepted {accepted_rate:.0f}/s, stored {stored_rate:.0f} imps/s, backlog {backlog_requests:.0f} req "
        f"+ {backlog_impressions:.0f} imps, drain {drain_s} s, client p99 {client.get('latency_p99_ms')} ms "
        f"-> {'PASS' if step['passed'] else 'fail'} {'' if sustained else [k for k, v in checks.items() if not v]}"
    )
    log(f"          cores: {cores}")
    log(f"          CPU ms per bid: {per_bid}")
    log(f"          stages (p50, p99 ms): {step['stages_p50_p99']}")
    return step


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", default=",".join(map(str, QUICK_STEPS if QUICK else FULL_STEPS)))
    parser.add_argument("--seconds", type=float, default=6 if QUICK else 30, help="per step")
    parser.add_argument("--profile", action="store_true", help="py-spy the consumer roles under load afterwards")
    parser.add_argument("--profile-rate", type=float, default=2000)
    args = parser.parse_args()
    steps = [float(s) for s in args.steps.split(",") if s]

    about = machine()
    prefix = new_prefix()
    workdir = Path(tempfile.mkdtemp(prefix="helios-bench-e2e-"))
    database = prepare_bench_database()
    log(f"e2e: topics {prefix}*, database {database.rsplit('/', 1)[-1]}, logs in {workdir}, load {load_average()}")
    create_topics(prefix)
    roles = Roles(prefix, workdir, DATABASE_URL=database)
    results: list[dict[str, Any]] = []
    profiled: list[str] = []
    try:
        seed_profiles(roles.env, 0)
        for role in ("profiles", "outcomes", "auction", "bidder", "handler"):
            roles.start(role)
        pipeline = Pipeline(roles)
        url = f"http://127.0.0.1:{roles.handler_port}/bid"
        log("warm-up: 200 bids/s for 5 s")
        loadgen(url, 200, 5).communicate(timeout=90)
        failures = 0
        for rate in steps:
            step = run_step(pipeline, url, rate, args.seconds, database)
            results.append(step)
            failures = 0 if step["passed"] else failures + 1
            # The 1,000 bids/s step always runs (its p50 is a target of its own).
            if rate >= P50_RATE and (failures >= 2 or step["drain_s"] is None):
                log("  stopping: two failed steps in a row or a backlog that does not drain")
                break
        if args.profile:
            log(f"profiling bidder, auction, outcomes at {args.profile_rate:.0f} bids/s for {PROFILE_S} s")
            gen = loadgen(url, args.profile_rate, PROFILE_S + 6)
            time.sleep(3)
            spies = [py_spy(roles.pid(role), f"e2e-{role}", PROFILE_S) for role in ("bidder", "auction", "outcomes")]
            for spy in spies:
                spy.wait(90)
            gen.communicate(timeout=90)
            profiled = [f"bench/results/e2e-{r}.svg" for r in ("bidder", "auction", "outcomes")]
    finally:
        roles.stop_all()
        delete_topics(prefix)
        flush_redis()
        truncate_outcomes(database)

    passing = [s for s in results if s["passed"]]
    best = max(passing, key=lambda s: s["rate_per_s"]) if passing else None
    at_1000 = next((s for s in results if s["rate_per_s"] == P50_RATE), None)
    p50_1000 = at_1000["latency_p50_ms"] if at_1000 else None
    at_100 = next((s for s in results if s["rate_per_s"] == LOW_RATE), None)
    p50_100, p99_100 = (at_100["latency_p50_ms"], at_100["latency_p99_ms"]) if at_100 else (None, None)
    write_result(
        "e2e",
        {
            "machine": about,
            "setup": {
                "roles": "profiles, outcomes, auction, bidder, handler: one process each (manage.py)",
                "generator": "bench/loadgen.py, open loop, 64 connections, simulate's request mix, own process",
                "seconds_per_step": args.seconds,
                "partitions": 3,
                "batch_size": roles.env.get("HELIOS_BATCH_SIZE", "500 (default)"),
            },
            "max_sustained_rate_per_s": best["rate_per_s"] if best else None,
            "p99_ms_at_max": best["latency_p99_ms"] if best else None,
            "p50_ms_at_1000": p50_1000,
            "p50_ms_at_100": p50_100,
            "p99_ms_at_100": p99_100,
            "steps": results,
            "profile": profiled,
            "targets": {
                "sustained_rate_per_s": TARGET_RATE,
                "p99_ms": TARGET_P99_MS,
                "p50_ms_at_1000": TARGET_P50_AT_1000_MS,
                "p50_ms_at_100": TARGET_P50_AT_100_MS,
                "p99_ms_at_100": TARGET_P99_AT_100_MS,
            },
            "met": {
                "rate": bool(best and best["rate_per_s"] >= TARGET_RATE),
                "p50_at_1000": bool(p50_1000 is not None and p50_1000 <= TARGET_P50_AT_1000_MS),
                "at_100": bool(
                    p50_100 is not None
                    and p99_100 is not None
                    and p50_100 <= TARGET_P50_AT_100_MS
                    and p99_100 <= TARGET_P99_AT_100_MS
                ),
            },
        },
    )
    log(
        f"e2e: highest sustained rate with p99 <= 100 ms: {best['rate_per_s'] if best else None}; p50 at 1000/s: {p50_1000} ms"
    )


if __name__ == "__main__":
    main()
