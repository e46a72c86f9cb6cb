"""Intake benchmark: wrk against `manage.py runkafka handler` on the real broker.

    .venv/bin/python bench/intake.py [--connections 64] [--seconds 30] [--threads 2] [--profile]

Starts the handler on fresh topics, warms it up, runs `wrk -t2 -c64 -d30s --latency` with
bench/intake_bid.lua (valid simple-form bids, a unique request_id each), and writes
bench/results/intake.json: accepted requests/s, p50/p99/p99.9, non-202 answers, socket errors, and
the messages that actually reached the topic (every 202 must be one message). wrk is closed loop:
its latencies are those of 64 connections each waiting for its answer.

With --profile, a second wrk run of 20 s is profiled with py-spy (bench/results/handler.svg); the
measured run is never the profiled one.
"""

import argparse
import re
import subprocess
import tempfile
from pathlib import Path
from typing import Any

from common import (
    QUICK,
    REPO,
    Roles,
    create_topics,
    delete_topics,
    load_average,
    log,
    machine,
    new_prefix,
    py_spy,
    topic_end_offsets,
    write_result,
)

LUA = REPO / "bench" / "intake_bid.lua"
TARGET_ACCEPTED_PER_S = 10_000
TARGET_P99_MS = 10.0
PROFILE_S = 20


def run_wrk(url: str, *, threads: int, connections: int, seconds: int) -> dict[str, Any]:
    args = ["wrk", f"-t{threads}", f"-c{connections}", f"-d{seconds}s", "--latency", "-s", str(LUA), url]
    out = subprocess.run(args, cwd=REPO, capture_output=True, text=True, check=True).stdout
    return parse_wrk(out) | {"command": " ".join([*args[:-3], "-s", "bench/intake_bid.lua", "<handler>/bid"])}


def parse_wrk(out: str) -> dict[str, Any]:
    """The figures of wrk's report and of intake_bid.lua's done()."""
    result: dict[str, Any] = {"raw": out}
    found = re.search(r"accepted: (\d+)\s+not-202: (\d+)\s+accepted/s: ([\d.]+)", out)
    if not found:
        raise RuntimeError(f"unexpected wrk output:\n{out}")
    result["accepted"], result["not_202"] = int(found.group(1)), int(found.group(2))
    result["accepted_per_s"] = float(found.group(3))
    for name, value in re.findall(r"^p([\d.]+): ([\d.]+) ms$", out, re.MULTILINE):
        result[f"p{name.replace('.', '_')}_ms"] = float(value)
    requests = re.search(r"Requests/sec:\s+([\d.]+)", out)
    result["requests_per_s"] = float(requests.group(1)) if requests else None
    errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    result["socket_errors"] = (
        dict(zip(("connect", "read", "write", "timeout"), map(int, errors.groups()), strict=True)) if errors else {}
    )
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    result["non_2xx_3xx"] = int(non2xx.group(1)) if non2xx else 0
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--seconds", type=int, default=5 if QUICK else 30)
    parser.add_argument("--profile", action="store_true", help=f"also profile a {PROFILE_S} s run with py-spy")
    args = parser.parse_args()

    about = machine()
    prefix = new_prefix()
    workdir = Path(tempfile.mkdtemp(prefix="helios-bench-intake-"))
    log(f"intake: topics {prefix}*, logs in {workdir}, load {load_average()}")
    create_topics(prefix)
    roles = Roles(prefix, workdir)
    try:
        roles.start("handler")
        url = f"http://127.0.0.1:{roles.handler_port}/bid"
        log("warm-up: 3 s")
        run_wrk(url, threads=args.threads, connections=args.connections, seconds=3)
        before = roles.metrics("handler")
        topic = f"{prefix}bid_requests"
        offsets_before = topic_end_offsets(topic)
        log(f"wrk -t{args.threads} -c{args.connections} -d{args.seconds}s (load {load_average()})")
        load_before = load_average()
        result = run_wrk(url, threads=args.threads, connections=args.connections, seconds=args.seconds)
        after = roles.metrics("handler")
        delivered = topic_end_offsets(topic) - offsets_before
        answers = {
            status: after.value("bid_requests_total", status=status) - before.value("bid_requests_total", status=status)
            for status in ("202", "400", "503", "500", "client_closed")
        }
        profiled = None
        if args.profile:
            log(f"profiling the handler under wrk for {PROFILE_S} s")
            spy = py_spy(roles.pid("handler"), "handler", PROFILE_S)
            run_wrk(url, threads=args.threads, connections=args.connections, seconds=PROFILE_S + 2)
            spy.wait(60)
            profiled = "bench/results/handler.svg"
    finally:
        roles.stop_all()
        delete_topics(prefix)

    print(result.pop("raw"), flush=True)
    p99 = result.get("p99_ms")
    write_result(
        "intake",
        {
            "machine": about,
            "load_average_during": load_before,
            "setup": {
                "server": "manage.py runkafka handler (uvicorn, httptools, uvloop), 1 process",
                "connections": args.connections,
                "wrk_threads": args.threads,
                "seconds": args.seconds,
                "partitions": 3,
            },
            **result,
            "handler_answers": answers,
            "messages_on_topic": delivered,
            "every_202_on_topic": delivered >= result["accepted"],
            "profile": profiled,
            "targets": {"accepted_per_s": TARGET_ACCEPTED_PER_S, "p99_ms": TARGET_P99_MS},
            "met": bool(result["accepted_per_s"] >= TARGET_ACCEPTED_PER_S and p99 is not None and p99 <= TARGET_P99_MS),
        },
    )
    log(
        f"intake: {result['accepted_per_s']:.0f} accepted/s, p50 {result.get('p50_ms')} ms, p99 {p99} ms, "
        f"p99.9 {result.get('p99_9_ms')} ms, non-202 {result['not_202']}, on topic {delivered}"
    )


if __name__ == "__main__":
    main()
