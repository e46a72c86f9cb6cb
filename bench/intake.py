"""Intake benchmark: wrk against `manage.py runkafka handler` and the Go anchor, on the real broker.

    .venv/bin/python bench/intake.py [--connections 64] [--seconds 30] [--rounds 2] [--workers 2] [--no-anchor] [--profile]

Starts Helios's handler (--workers processes on one port, as HELIOS_HANDLER_WORKERS runs it on a
machine with that many cores; Go's runtime likewise uses every core) and the Go anchor (bench/anchors/, built here with the machine's Go; see
bench/anchor.py) on the same fresh topic, then runs `wrk -t2 -c64 -d30s --latency` with
bench/intake_bid.lua (valid simple-form bids, a unique request_id each) against them in turn,
alternated (helios, go, helios, go for 2 rounds), each run after a 2 s warm-up of its own, so both
see the same machine load. Writes bench/results/intake.json: per side accepted requests/s (the
mean of its runs), p50/p99/p99.9, non-202 answers, socket errors, the messages that actually
reached the topic (every 202 must be one message), CPU per accepted request of the handler and the
broker; and the ratio Helios ÷ Go. wrk is closed loop: its latencies are those of 64 connections
each waiting for its answer.

With --profile, a further wrk run of 20 s on Helios's handler is profiled with py-spy
(bench/results/handler.svg); the measured runs are never the profiled one.
"""

import argparse
import tempfile
from pathlib import Path
from typing import Any

import anchor
from common import (
    QUICK,
    Roles,
    create_topics,
    delete_topics,
    load_average,
    log,
    machine,
    new_prefix,
    py_spy,
    write_result,
)
from intake_runs import Side, measure, summarize
from intake_runs import run_intake_wrk as run_wrk

TARGET_ACCEPTED_PER_S = 10_000
TARGET_P99_MS = 10.0
TARGET_RATIO = 1.0  # Helios's accepted/s ÷ the Go anchor's, same run
PROFILE_S = 20


def ratio(helios: dict[str, Any], go: dict[str, Any] | None) -> dict[str, Any] | None:
    if not go or not go["accepted_per_s"]:
        return None
    value = round(helios["accepted_per_s"] / go["accepted_per_s"], 3)
    return {
        "accepted_per_s": value,
        "helios_accepted_per_s": helios["accepted_per_s"],
        "go_accepted_per_s": go["accepted_per_s"],
        "helios_p99_ms": helios["p99_ms"],
        "go_p99_ms": go["p99_ms"],
        "target": TARGET_RATIO,
        "met": bool(value >= TARGET_RATIO and helios["p99_ms"] is not None and helios["p99_ms"] <= TARGET_P99_MS),
    }


def run_all(args: argparse.Namespace, prefix: str, workdir: Path) -> tuple[list[dict[str, Any]], str | None]:
    """Starts both handlers, alternates the measured runs, profiles if asked; stops what it started."""
    topic = f"{prefix}bid_requests"
    roles = Roles(prefix, workdir, HELIOS_HANDLER_WORKERS=str(args.workers))
    go = anchor.Anchor(topic, workdir)
    runs: list[dict[str, Any]] = []
    profiled = None
    try:
        roles.start("handler")
        sides = [Side("helios", f"http://127.0.0.1:{roles.handler_port}/bid", roles.pid("handler"), topic, roles)]
        if args.anchor:
            go.start()
            sides.append(Side("go", go.url, go.pid, topic))
        log(f"warm-up: 3 s each; then {args.rounds} round(s) of {args.seconds} s per side, alternated")
        for side in sides:
            run_wrk(side.url, threads=args.threads, connections=args.connections, seconds=3)
        for _ in range(args.rounds):
            runs += [measure(side, args) for side in sides]
        if args.profile:
            log(f"profiling the handler under wrk for {PROFILE_S} s")
            spy = py_spy(roles.pid("handler"), "handler", PROFILE_S)
            run_wrk(sides[0].url, threads=args.threads, connections=args.connections, seconds=PROFILE_S + 2)
            spy.wait(60)
            profiled = "bench/results/handler.svg"
    finally:
        go.stop()
        roles.stop_all()
    return runs, profiled


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--seconds", type=int, default=5 if QUICK else 30, help="per measured run")
    parser.add_argument("--rounds", type=int, default=2, help="measured runs per side, alternated")
    parser.add_argument(
        "--workers", type=int, default=2,
        help="Helios handler processes sharing the port (HELIOS_HANDLER_WORKERS); the Go anchor uses every core too",
    )  # fmt: skip
    parser.add_argument("--no-anchor", dest="anchor", action="store_false", help="Helios's handler only")
    parser.add_argument("--profile", action="store_true", help=f"also profile a {PROFILE_S} s run with py-spy")
    args = parser.parse_args()

    about = machine() | ({"go": anchor.go_version()} if args.anchor else {})
    prefix = new_prefix()
    workdir = Path(tempfile.mkdtemp(prefix="helios-bench-intake-"))
    log(f"intake: topics {prefix}*, logs in {workdir}, load {load_average()}")
    create_topics(prefix)
    try:
        runs, profiled = run_all(args, prefix, workdir)
    finally:
        delete_topics(prefix)

    helios = summarize([r for r in runs if r["side"] == "helios"])
    go = summarize([r for r in runs if r["side"] == "go"]) if args.anchor else None
    p99 = helios["p99_ms"]
    write_result(
        "intake",
        {
            "machine": about,
            "load_average_during": runs[0]["load_average_during"],
            "command": f"wrk -t{args.threads} -c{args.connections} -d{args.seconds}s --latency "
            "-s bench/intake_bid.lua <handler>/bid",
            "setup": {
                "server": "manage.py runkafka handler (uvicorn, httptools, uvloop), "
                f"{args.workers} process{'es' if args.workers > 1 else ''} on one port",
                "anchor": anchor.DESCRIPTION if args.anchor else None,
                "connections": args.connections,
                "wrk_threads": args.threads,
                "seconds": args.seconds,
                "rounds": args.rounds,
                "partitions": 3,
            },
            **helios,
            "anchor": go,
            "ratio": ratio(helios, go),
            "runs": runs,
            "profile": profiled,
            "targets": {"accepted_per_s": TARGET_ACCEPTED_PER_S, "p99_ms": TARGET_P99_MS, "ratio": TARGET_RATIO},
            "met": bool(helios["accepted_per_s"] >= TARGET_ACCEPTED_PER_S and p99 is not None and p99 <= TARGET_P99_MS),
        },
    )
    log(f"intake: Helios {helios['accepted_per_s']:,.0f} accepted/s, p99 {p99} ms, non-202 {helios['not_202']}")
    if go:
        log(
            f"intake: Go anchor {go['accepted_per_s']:,.0f} accepted/s, p99 {go['p99_ms']} ms: ratio {ratio(helios, go)}"
        )


if __name__ == "__main__":
    main()
