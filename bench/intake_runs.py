"""The intake's measured wrk runs against `POST /bid` (bench/intake_bid.lua): bench/intake.py
alternates them with the Go anchor's, bench/rtb_bid.py with `/openrtb2/bid`'s on the same handler.

(Not in bench/intake.py: that name is the `intake` app's when the repository is on sys.path.)
"""

import argparse
import re
from statistics import mean
from typing import Any

from common import (
    REPO,
    CpuMeter,
    Roles,
    broker_pid,
    cpu_ms_per_item,
    load_average,
    log,
    process_tree,
    topic_end_offsets,
)
from wrk import run_wrk, wrk_figures

LUA = REPO / "bench" / "intake_bid.lua"
WARMUP_S = 2
LATENCIES = ("p50_ms", "p90_ms", "p99_ms", "p99_9_ms")


def run_intake_wrk(url: str, *, threads: int, connections: int, seconds: int) -> dict[str, Any]:
    out, command = run_wrk(url, LUA, threads=threads, connections=connections, seconds=seconds)
    return parse_wrk(out) | {"command": command}


def parse_wrk(out: str) -> dict[str, Any]:
    """The figures of wrk's report and of intake_bid.lua's done()."""
    result: dict[str, Any] = {"raw": out}
    found = re.search(r"accepted: (\d+)\s+not-202: (\d+)\s+accepted/s: ([\d.]+)", out)
    if not found:
        raise RuntimeError(f"unexpected wrk output:\n{out}")
    result["accepted"], result["not_202"] = int(found.group(1)), int(found.group(2))
    result["accepted_per_s"] = float(found.group(3))
    return result | wrk_figures(out)


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
    run_intake_wrk(side.url, threads=args.threads, connections=args.connections, seconds=WARMUP_S)
    broker = broker_pid()
    meter = CpuMeter({"handler": process_tree(side.pid), "kafka": [broker] if broker else []})
    answers_before, offsets_before, load = side.answers(), topic_end_offsets(side.topic), load_average()
    meter.start()
    result = run_intake_wrk(side.url, threads=args.threads, connections=args.connections, seconds=args.seconds)
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
