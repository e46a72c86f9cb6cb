"""Intake benchmark: wrk against `manage.py runkafka handler` and the Go anchor, on the real broker.

    .venv/bin/python bench/intake.py [--connections 64] [--seconds 30] [--rounds 2] [--no-anchor] [--profile]

Starts Helios's handler and the Go anchor (bench/anchors/, built here with the machine's Go; see
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
import re
import subprocess
import tempfile
from pathlib import Path
from statistics import mean
from typing import Any

import anchor
from common import (
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
    py_spy,
    topic_end_offsets,
    write_result,
)

LUA = REPO / "bench" / "intake_bid.lua"
TARGET_ACCEPTED_PER_S = 10_000
TARGET_P99_MS = 10.0
TARGET_RATIO = 1.0  # Helios's accepted/s ÷ the Go anchor's, same run
PROFILE_S = 20
WARMUP_S = 2
LATENCIES = ("p50_ms", "p90_ms", "p99_ms", "p99_9_ms")


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


class Side:
    """One handler under test: where wrk sends its load, its process, and the topic it writes."""

    def __init__(self, name: str, url: str, pid: int, topic: str, roles: Roles | None = None) -> None:
        self.name, self.url, self.pid, self.topic, self.roles = name, url, pid, topic, roles

    def answers(self) -> dict[str, float]:
        """Helios's handler counts its answers (bid_requests_total); the anchor does not."""
        if self.roles is None:
            return {}
        metrics = self.roles.metrics("handler")
        return {s: metrics.value("bid_requests_total", status=s) for s in ("202", "400", "503", "500", "client_closed")}


def measure(side: Side, args: argparse.Namespace) -> dict[str, Any]:
    """A warm-up, then one measured wrk run: its figures, the messages it put on the topic and the
    CPU per accepted request of the handler, the broker and the machine."""
    run_wrk(side.url, threads=args.threads, connections=args.connections, seconds=WARMUP_S)
    broker = broker_pid()
    meter = CpuMeter({"handler": [side.pid], "kafka": [broker] if broker else []})
    answers_before, offsets_before, load = side.answers(), topic_end_offsets(side.topic), load_average()
    meter.start()
    result = run_wrk(side.url, threads=args.threads, connections=args.connections, seconds=args.seconds)
    cores = meter.stop()
    result.pop("raw")
    result.pop("command")
    answers_after = side.answers()
    result |= {
        "side": side.name,
        "load_average_during": load,
        "messages_on_topic": topic_end_offsets(side.topic) - offsets_before,
        "answers": {k: answers_after[k] - answers_before[k] for k in answers_after},
        "cpu_cores": cores,
        "cpu_ms_per_accepted": cpu_ms_per_item(cores, result["accepted_per_s"]),
    }
    log(
        f"  {side.name:6}: {result['accepted_per_s']:,.0f} accepted/s, p50 {result.get('p50_ms')} ms, "
        f"p99 {result.get('p99_ms')} ms, non-202 {result['not_202']}, on topic {result['messages_on_topic']}, "
        f"cores {cores} (load {load})"
    )
    return result


def summarize(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """One side's figures over its runs: mean rate and latencies, summed counts."""
    out: dict[str, Any] = {
        "runs": len(runs),
        "accepted_per_s": round(mean(r["accepted_per_s"] for r in runs), 1),
        "accepted": sum(r["accepted"] for r in runs),
        "not_202": sum(r["not_202"] for r in runs),
        "socket_errors": {k: sum(r["socket_errors"].get(k, 0) for r in runs) for k in runs[0]["socket_errors"]},
        "messages_on_topic": sum(r["messages_on_topic"] for r in runs),
        "cpu_ms_per_accepted": {
            k: round(mean(r["cpu_ms_per_accepted"][k] or 0 for r in runs), 3) for k in runs[0]["cpu_ms_per_accepted"]
        },
    }
    for key in LATENCIES:
        values = [r[key] for r in runs if r.get(key) is not None]
        out[key] = round(mean(values), 2) if values else None
    out["every_202_on_topic"] = out["messages_on_topic"] >= out["accepted"]
    if runs[0]["answers"]:
        out["handler_answers"] = {k: sum(r["answers"][k] for r in runs) for k in runs[0]["answers"]}
    return out


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
    roles = Roles(prefix, workdir)
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
                "server": "manage.py runkafka handler (uvicorn, httptools, uvloop), 1 process",
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
