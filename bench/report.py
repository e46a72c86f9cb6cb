"""Renders docs/benchmarks.md from bench/results/*.json (and the findings in bench/findings.md).

    .venv/bin/python bench/report.py [--out docs/benchmarks.md]

Missing results are shown as "not run". Nothing here measures anything.
"""

import argparse
import bisect
import json
import re
from collections import Counter
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
RESULTS = REPO / "bench" / "results"
FINDINGS = REPO / "bench" / "findings.md"
API_FINDINGS = REPO / "bench" / "api_findings.md"
RSS_TARGET_RATIO = 1.2
MACHINE_MS_PER_BID_TARGET = 0.8  # issue 17


def load(name: str) -> dict[str, Any] | None:
    path = RESULTS / f"{name}.json"
    return json.loads(path.read_text()) if path.exists() else None


def num(value: Any, digits: int = 0, unit: str = "") -> str:
    if value is None:
        return "—"
    text = f"{value:,.{digits}f}" if isinstance(value, int | float) else str(value)
    return f"{text} {unit}".rstrip()


def met(flag: bool | None) -> str:
    return "—" if flag is None else ("**met**" if flag else "**not met**")


def table(header: list[str], rows: list[list[str]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return [*lines, ""]


def when(result: dict[str, Any] | None) -> str:
    if not result:
        return "not run"
    quick = " (BENCH_QUICK smoke run: not the published figures)" if result.get("quick") else ""
    load_start = result.get("machine", {}).get("load_average_at_start", "?")
    return f"{result.get('when', '?')}, load average {load_start} → {result.get('load_average_at_end', '?')}{quick}"


def machine_section(results: list[dict[str, Any] | None]) -> list[str]:
    about = next((r["machine"] for r in results if r and "machine" in r), None)
    lines = ["## The machine", ""]
    if about is None:
        return [*lines, "No results yet: run `make bench`.", ""]
    lines += table(
        ["", ""],
        [
            ["CPUs (nproc)", str(about.get("nproc"))],
            ["Memory", f"{about.get('memory_gib')} GiB"],
            ["CPU model", about.get("cpu_model", "?")],
            ["Kernel", about.get("kernel", "?")],
            ["Python", about.get("python", "?")],
            ["Kafka", about.get("kafka", "?")],
            ["PostgreSQL", about.get("postgresql", "?")],
            ["Redis", about.get("redis", "?")],
        ],
    )
    lines += [
        f"Everything shares these {about.get('nproc')} cores: Kafka, PostgreSQL and Redis, every role process, and "
        "the load generator (wrk or bench/loadgen.py). The figures are therefore what one small box does with the whole "
        "platform on it, not what a role does on a core of its own. The load average at the start and end of each "
        "benchmark is recorded with it; other work on the machine (test suites) shows there.",
        "",
    ]
    return lines


def summary(intake: Any, e2e: Any, roles: Any, rss: Any, api: Any, rtb: Any = None) -> list[str]:
    rows: list[list[str]] = []
    if intake:
        rows.append(
            [
                "Intake: accepted bids/s (wrk, 64 connections)",
                num(intake["accepted_per_s"]),
                "≥ 10,000",
                met(intake["accepted_per_s"] >= intake["targets"]["accepted_per_s"]),
            ]
        )
        p99 = intake.get("p99_ms")
        rows.append(
            [
                "Intake: p99 latency",
                num(p99, 2, "ms"),
                "≤ 10 ms",
                met(p99 is not None and p99 <= intake["targets"]["p99_ms"]),
            ]
        )
        anchor_ratio = intake.get("ratio")
        if anchor_ratio:
            rows.append(
                [
                    "Intake vs the Go anchor (same run, alternated): Helios accepted/s ÷ Go accepted/s",
                    f"{anchor_ratio['accepted_per_s']:.2f}x ({num(anchor_ratio['helios_accepted_per_s'])} vs "
                    f"{num(anchor_ratio['go_accepted_per_s'])}/s; p99 {num(anchor_ratio['helios_p99_ms'], 2, 'ms')} "
                    f"vs {num(anchor_ratio['go_p99_ms'], 2, 'ms')})",
                    f"≥ {anchor_ratio['target']:.1f}x, p99 ≤ 10 ms",
                    met(anchor_ratio["met"]),
                ]
            )
    else:
        rows.append(["Intake", "not run", "≥ 10,000/s, p99 ≤ 10 ms", "—"])
    rows += rtb_rows(rtb)
    if e2e:
        best, targets = e2e.get("max_sustained_rate_per_s"), e2e["targets"]
        rows.append(
            [
                "End to end: highest sustained bids/s with p99 received→stored ≤ 100 ms",
                num(best) if best else "none of the steps",
                f"≥ {targets['sustained_rate_per_s']:,}",
                met(e2e["met"]["rate"]),
            ]
        )
        rows.append(
            [
                "End to end: p50 received→stored at 1,000 bids/s",
                num(e2e.get("p50_ms_at_1000"), 1, "ms"),
                f"≤ {targets['p50_ms_at_1000']:g} ms",
                met(e2e["met"]["p50_at_1000"]),
            ]
        )
        if "p50_ms_at_100" in targets:
            rows.append(
                [
                    "End to end: p50 / p99 received→stored at 100 bids/s",
                    f"{num(e2e.get('p50_ms_at_100'), 1, 'ms')} / {num(e2e.get('p99_ms_at_100'), 1, 'ms')}",
                    f"≤ {targets['p50_ms_at_100']:g} ms / ≤ {targets['p99_ms_at_100']:g} ms",
                    met(e2e["met"]["at_100"]),
                ]
            )
        at_1000 = next((st for st in e2e["steps"] if st["rate_per_s"] == 1000 and st.get("cpu_ms_per_bid")), None)
        if at_1000:
            machine_ms = at_1000["cpu_ms_per_bid"].get("machine")
            rows.append(
                [
                    "End to end: whole-machine CPU per bid at 1,000 bids/s",
                    num(machine_ms, 2, "ms"),
                    f"≤ {MACHINE_MS_PER_BID_TARGET} ms",
                    met(machine_ms is not None and machine_ms <= MACHINE_MS_PER_BID_TARGET),
                ]
            )
    else:
        rows.append(["End to end", "not run", "≥ 2,000/s, p99 ≤ 100 ms; p50 ≤ 25 ms at 1,000/s", "—"])
    if roles:
        for key, label, unit_key, target_key in (
            ("outcomes", "Outcomes sink: rows/s (1 process)", "rows_per_s", "outcomes_rows_per_s"),
            ("bidder", "Bidder: requests/s (1 process)", "messages_per_s", "bidder_messages_per_s"),
            ("auction", "Auction: messages/s (1 process)", "messages_per_s", "auction_messages_per_s"),
        ):
            single = next((r for r in roles.get(key, []) if r["processes"] == 1), None)
            target = roles["targets"].get(target_key)
            if target is None:
                continue
            rows.append(
                [
                    label,
                    num(single[unit_key]) if single else "not run",
                    f"≥ {target:,}",
                    met(single[unit_key] >= target) if single else "—",
                ]
            )
        for run in roles.get("profiles", []):
            rows.append(
                [
                    f"Profile lookups/s, batch_get of 500 ids, {run['client_threads']} client thread(s)",
                    num(run["lookups_per_s"]),
                    "—",
                    "—",
                ]
            )
    if rss:
        rows.append(
            [
                f"Embedded mode: RSS after {rss['minutes']:g} min / after 1 min at {rss['rate_per_s']:g} bids/s",
                f"{rss['ratio']} ({rss['rss_mib_at_1_min']:.0f} → {rss['rss_mib_at_end']:.0f} MiB)",
                f"≤ {RSS_TARGET_RATIO}",
                met(rss["ratio"] <= RSS_TARGET_RATIO),
            ]
        )
    if not api and API_FINDINGS.exists():
        rows.append(
            ["Analytics API (bench/api.py, run separately)", "see *Analytics API* below", "p50 ≤ 20-100 ms", "—"]
        )
    if api:
        for row in api.get("results", []):
            if row.get("target_p50_ms"):
                rows.append(
                    [
                        f"API ({api.get('rows', 0):,} rows; bench/api.py, run separately): {row['name']} p50",
                        num(row["p50_ms"], 2, "ms"),
                        f"≤ {row['target_p50_ms']:g} ms",
                        met(row.get("met")),
                    ]
                )
    return ["## Results against the targets", "", *table(["Benchmark", "Result", "Target", "Met"], rows)]


def _intake_row(name: str, side: dict[str, Any]) -> list[str]:
    errors = side.get("socket_errors") or {}
    cpu = side.get("cpu_ms_per_accepted") or {}
    return [
        name,
        num(side["accepted_per_s"]),
        num(side.get("p50_ms"), 2, "ms"),
        num(side.get("p90_ms"), 2, "ms"),
        num(side.get("p99_ms"), 2, "ms"),
        num(side.get("p99_9_ms"), 2, "ms"),
        num(side["not_202"]),
        ", ".join(f"{k} {v}" for k, v in errors.items() if v) or "0",
        f"{side['messages_on_topic']:,} (≥ accepted: {'yes' if side['messages_on_topic'] >= side['accepted'] else 'NO'})",
        " / ".join(num(cpu.get(k), 3) for k in ("handler", "kafka", "machine")) if cpu else "—",
        side.get("load_average_during", "—"),
    ]


def intake_section(intake: Any) -> list[str]:
    lines = ["## Intake", ""]
    if not intake:
        return [*lines, "Not run.", ""]
    setup = intake["setup"]
    anchor = intake.get("anchor")
    rounds = setup.get("rounds", 1)
    lines += [
        f"`{intake['command']}` against `{setup['server']}`"
        + (f" and the Go anchor ({setup['anchor']}, {intake['machine'].get('go', 'Go')})" if anchor else "")
        + f", {setup['seconds']} s per run after a warm-up, {rounds} run(s) per side"
        + (" alternated (helios, go, helios, go...)" if anchor else "")
        + f", both writing one topic with {setup['partitions']} partitions on the real broker. {when(intake)}.",
        "",
    ]
    header = ["", "accepted/s", "p50", "p90", "p99", "p99.9", "non-202", "socket errors", "messages on the topic"]
    header += ["CPU ms per accepted: handler / kafka / machine", "load avg"]
    rows = [_intake_row("Helios (mean of its runs)", intake)]
    if anchor:
        rows.append(_intake_row("Go anchor (mean of its runs)", anchor))
    rows += [_intake_row(f"run {i}: {run['side']}", run) for i, run in enumerate(intake.get("runs", []), 1)]
    lines += table(header, rows)
    lines += [
        "wrk is closed loop (each connection waits for its answer), so these latencies are those of 64 busy "
        "connections, not of an open-loop arrival rate; the end-to-end benchmark below is open loop. wrk runs on "
        "the same 2 cores and takes a large share of them: the figures compare the two handlers under the same "
        "conditions, they are not either handler's ceiling.",
        "",
    ]
    return lines


def rtb_rows(rtb: Any) -> list[list[str]]:
    """The summary's `/openrtb2/bid` rows: the issue's targets beside the figures."""
    if not rtb:
        return [["RTB `/openrtb2/bid`", "not run", "≥ 3,000/s, p99 ≤ 20 ms; open loop p99 ≤ 10 ms, 0 late", "—"]]
    closed, open_loop, targets, ok = rtb["closed"], rtb["open"], rtb["targets"], rtb["met"]
    rate = f"{targets['open_rate_per_s']:,}/s"
    return [
        ["RTB: answers/s (200 + 204), wrk, 64 connections", num(closed["answers_per_s"]),
         f"≥ {targets['answers_per_s']:,}", met(ok["answers_per_s"])],
        ["RTB: p99 latency, 64 connections", num(closed["p99_ms"], 2, "ms"), f"≤ {targets['p99_ms']:g} ms",
         met(ok["p99_ms"])],
        [f"RTB: open loop at {rate}: p99 (from each request's due time)", num(open_loop["p99_ms"], 2, "ms"),
         f"≤ {targets['open_p99_ms']:g} ms", met(ok["open_p99_ms"])],
        [f"RTB: open loop at {rate}: answers after the request's deadline", num(open_loop["late_answers"]),
         str(targets["late_answers"]), met(ok["late_answers"])],
        ["RTB answers/s ÷ intake `/bid` accepted/s (same handler, same run)",
         f"{num(rtb['ratio_rtb_to_intake'], 3)} ({num(closed['answers_per_s'])} vs "
         f"{num(rtb['intake']['accepted_per_s'])}/s)", "reported", "—"],
    ]  # fmt: skip


def _rtb_row(name: str, side: dict[str, Any], rate: str) -> list[str]:
    cpu = side.get("cpu_ms_per_answer") or {}
    lookups = side.get("handler", {}).get("profile_lookups", {})
    return [
        name, rate, num(side.get("bid_rate"), 3) if "bid_rate" in side else num(side.get("bids")),
        *(num(side.get(k), 2) for k in ("p50_ms", "p90_ms", "p99_ms", "p99_9_ms")),
        num(side.get("other")), num(side.get("late_answers")) if "late_answers" in side else "—",
        num(side.get("handler", {}).get("late", {}).get("total", 0)),
        ", ".join(f"{k} {v:,.0f}" for k, v in lookups.items()) or "—",
        " / ".join(num(cpu.get(k), 3) for k in ("handler", "profiles", "kafka", "machine")),
        ", ".join(side["load_averages"]) if "load_averages" in side else side.get("load_average_during", "—"),
    ]  # fmt: skip


def rtb_section(rtb: Any) -> list[str]:
    lines = ["## Real-time bidding: `/openrtb2/bid`", ""]
    if not rtb:
        return [*lines, "Not run.", ""]
    setup, closed, open_loop = rtb["setup"], rtb["closed"], rtb["open"]
    lines += [
        f"`{rtb['command']}` and `{rtb['open_loop_command']}` against `{setup['server']}`, with the intake's "
        f"`/bid` run (bench/intake_bid.lua, same handler process) between them; {setup['rounds']} round(s) of "
        f"{setup['seconds']} s per run, alternated. Campaigns: {setup['campaigns']}; profiles live over gRPC "
        f"({setup['synthetic_profiles']:,} synthetic + 20 demo users); {setup['bodies']:,} OpenRTB 2.6 bodies "
        f"(bench/rtb_bodies.py) cycled, a unique id each; floors converted by the rates "
        + ", ".join(f"{code} {rate:g}" for code, rate in setup["currency_rates"].items())
        + f". "
        f"{when(rtb)}.",
        "",
    ]
    header = ["", "answers/s", "bid rate", "p50", "p90", "p99", "p99.9", "other answers", "late (client)"]
    header += ["late (handler)", "profile lookups", "CPU ms per answer: handler / profiles / kafka / machine"]
    rows = [
        _rtb_row("closed loop, 64 connections (mean)", closed, num(closed["answers_per_s"])),
        _rtb_row(f"open loop {setup['open_rate_per_s']:,}/s (mean)", open_loop, num(setup["open_rate_per_s"])),
    ]
    rows += [
        _rtb_row(f"run {i}: {r['side']}", r, num(r.get("answers_per_s", r.get("rate_per_s"))))
        for i, r in enumerate(rtb["runs"], 1)
        if r["side"] != "intake"
    ]
    lines += table([*header, "load avg"], rows)
    intake = rtb["intake"]
    mix = rtb.get("bodies_mix", {})
    lines += [
        f"Intake `/bid` in the same run: {num(intake['accepted_per_s'])} accepted/s, p99 "
        f"{num(intake['p99_ms'], 2, 'ms')}: RTB ÷ intake = **{num(rtb['ratio_rtb_to_intake'], 3)}**. "
        f"The profile circuit breaker opened {rtb.get('profile_breaker_opened', '?')} time(s) during the run "
        "(handler log). *late (client)*: answers after the request's own deadline (tmax - 20 ms, at most 100 ms), "
        "from its due time; *late (handler)*: `helios_rtb_late_answers_total`. Bodies: "
        + "; ".join(f"{k}: " + ", ".join(f"{name} {n:,}" for name, n in v.items()) for k, v in mix.items())
        + ".",
        "",
    ]
    return lines


def _stages(stages: dict[str, Any]) -> str:
    keys = ("received_to_priced_ms", "priced_to_auctioned_ms", "auctioned_to_write_start_ms")
    if not stages.get("rows"):
        return "—"
    return " / ".join(num(stages[k][0], 0) for k in keys)


def e2e_section(e2e: Any) -> list[str]:
    lines = ["## End to end", ""]
    if not e2e:
        return [*lines, "Not run.", ""]
    setup = e2e["setup"]
    lines += [
        f"{setup['roles']}; {setup['generator']}; {setup['seconds_per_step']:g} s per step; "
        f"{setup['partitions']} partitions. {when(e2e)}.",
        "",
        "Latency is received (the handler's `received_at`) → stored (the outcomes transaction committed): the "
        "outcomes role's `helios_pipeline_latency_seconds` histogram, scraped after each step's warm-up and at its "
        "end, p50/p99 interpolated inside the buckets of the difference (bucket bounds 5, 10, 25, 50, 100, 250 ms...; "
        "`received_at` has millisecond resolution). A step is *sustained* when, over the same window, the bidder "
        "consumed ≥ 95 % of the requests the handler accepted, the outcomes role stored ≥ 95 % of the impressions the "
        "bidder priced, the backlog left at the end drained within 2 s, the generator kept its rate and < 0.1 % of "
        "requests were answered other than 202. Bids are requests; each carries 1-3 impressions (~1.7 on average), "
        "and every impression is one stored row.",
        "",
    ]
    rows = []
    for step in e2e["steps"]:
        client = step.get("client", {})
        failed = [k for k, v in step["checks"].items() if not v]
        cores = step.get("cpu_cores", {})
        rows.append(
            [
                num(step["rate_per_s"]),
                num(step["accepted_per_s"]),
                num(step["stored_per_s"]),
                num(step["latency_p50_ms"], 1),
                num(step["latency_p99_ms"], 1),
                num(client.get("latency_p99_ms"), 1),
                num(step["drain_s"], 2),
                "yes" if step["sustained"] else "no: " + ", ".join(failed),
                "**pass**" if step["passed"] else "fail",
                _stages(step.get("stages_p50_p99", {})),
                " ".join(f"{k[:3]} {v}" for k, v in cores.items() if k in ("handler", "bidder", "auction", "outcomes")),
                f"{cores.get('kafka', '—')} / {cores.get('postgres', '—')} / {cores.get('machine', '—')}",
                step.get("load_average", "—"),
            ]
        )
    lines += table(
        [
            "bids/s sent",
            "accepted/s",
            "rows stored/s",
            "p50 ms",
            "p99 ms",
            "client p99 ms",
            "drain s",
            "sustained",
            "p99 ≤ 100 ms & sustained",
            "p50 per hop ms: →priced / →auctioned / →write",
            "cores: roles",
            "cores: kafka / postgres / machine",
            "load avg",
        ],
        rows,
    )
    lines += [
        "*p50 per hop* comes from the rows stored during the window: the handler's `received_at` → the bidder's "
        "`timestamp` → the auction's `auction_timestamp` → the outcomes batch's `created_at` (its write began; "
        "the write itself is the rest of the p50 above). "
        "*client p99* is the generator's HTTP answer latency (from each request's due time). *cores* are CPU "
        "seconds per second during the step's window (`/proc/<pid>/stat`); *postgres* is every PostgreSQL "
        "process (other databases' too), *machine* the whole box, other work included (2.0 = both cores busy).",
        "",
    ]
    return lines + cpu_per_bid_table(e2e["steps"])


CPU_GROUPS = (
    "handler",
    "bidder",
    "auction",
    "outcomes",
    "profiles",
    "roles",
    "loadgen",
    "kafka",
    "postgres",
    "machine",
)


def cpu_per_bid_table(steps: list[dict[str, Any]]) -> list[str]:
    """CPU milliseconds per accepted bid, per step, of each role, the services and the machine."""
    measured = [s for s in steps if s.get("cpu_ms_per_bid")]
    if not measured:
        return []
    lines = ["### CPU per bid", ""]
    rows = [
        [num(s["rate_per_s"]), num(s["accepted_per_s"])] + [num(s["cpu_ms_per_bid"].get(g), 3) for g in CPU_GROUPS]
        for s in measured
    ]
    lines += table(["bids/s sent", "accepted/s", *CPU_GROUPS], rows)
    lines += [
        "CPU milliseconds per accepted bid over each step's window: a group's CPU seconds per second ÷ the accepted "
        "bids per second. *roles* is the five role processes together; *loadgen* the load generator; *postgres* "
        "the whole PostgreSQL server (its exited backends included, other databases' work too); *machine* "
        "`/proc/stat`'s busy time, everything on the box (other work included).",
        "",
    ]
    return lines


def roles_section(roles: Any) -> list[str]:
    lines = ["## Per role", ""]
    if not roles:
        return [*lines, "Not run.", ""]
    lines += [
        f"{when(roles)}. Each role runs as its own `manage.py` process on fresh topics (3 partitions) with the input "
        "pre-loaded; the rate is taken from the first output to the last (start-up excluded). With 2 processes, "
        "both are in one consumer group.",
        "",
    ]
    rows = []
    for run in roles.get("bidder", []):
        found = run.get("enrichment_first_process", {})
        rows.append(
            [
                f"bidder, processes: {run['processes']}",
                f"{run['messages_per_s']:,} requests/s ({run['responses_per_s']:,} responses/s)",
                f"{run['messages']:,} requests, {run['impressions']:,} impressions; enrichment "
                + ", ".join(f"{k} {v:,.0f}" for k, v in found.items() if v),
                str(run["cpu_cores"]),
                run["load_average"],
            ]
        )
    for run in roles.get("auction", []):
        rows.append(
            [
                f"auction, processes: {run['processes']}",
                f"{run['messages_per_s']:,} messages/s",
                f"{run['messages']:,} bid_responses",
                str(run["cpu_cores"]),
                run["load_average"],
            ]
        )
    for run in roles.get("outcomes", []):
        rows.append(
            [
                f"outcomes, processes: {run['processes']}",
                f"{run['rows_per_s']:,} rows/s",
                f"{run['messages']:,} outcomes, {run['rows_stored']:,} rows stored (exactly N: "
                f"{'yes' if run['exactly_n_rows'] else 'NO'})",
                str(run["cpu_cores"]),
                run["load_average"],
            ]
        )
    for run in roles.get("profiles", []):
        rows.append(
            [
                f"profiles, {run['client_threads']} client thread(s)",
                f"{run['lookups_per_s']:,} lookups/s ({run['calls_per_s']:,} calls/s)",
                f"batch_get of {run['ids_per_call']} ids, {run['found_ratio']:.0%} found; call p50 "
                f"{run['call_p50_ms']} ms, p99 {run['call_p99_ms']} ms",
                str(run["cpu_cores"]),
                run["load_average"],
            ]
        )
    lines += table(["run", "rate", "details", "cores used", "load avg"], rows)
    return lines


def rss_section(rss: Any) -> list[str]:
    lines = ["## Embedded mode memory", ""]
    if not rss:
        return [*lines, "Not run.", ""]
    sim = rss.get("simulator", {})
    lines += [
        f"`bench/embedded_rss.py --rate {rss['rate_per_s']:g} --minutes {rss['minutes']:g}`: `manage.py runembedded` "
        f"on SQLite driven by `manage.py simulate`. RSS after 1 min {rss['rss_mib_at_1_min']:.1f} MiB, after "
        f"{rss['minutes']:g} min {rss['rss_mib_at_end']:.1f} MiB: ratio **{rss['ratio']}** (target ≤ "
        f"{RSS_TARGET_RATIO}). Simulator: {sim.get('accepted', '?'):,} of {sim.get('sent', '?'):,} accepted, "
        f"answers {sim.get('answers', {})}, client p50 {sim.get('latency_p50_ms')} ms, p99 "
        f"{sim.get('latency_p99_ms')} ms.",
        "",
    ]
    return lines


def api_section(api: Any) -> list[str]:
    """bench/api.py's last result (run separately: it loads millions of rows), then the written
    findings of the API work (bench/api_findings.md), which keep their figures when it was not run."""
    lines = ["## Analytics API", ""]
    if api:
        lines += [
            f"From `bench/api.py` ({api.get('when', '?')}): {api.get('rows', 0):,} outcomes, {api.get('client', '')}.",
            "",
        ]
        rows = [
            [
                row["name"],
                num(row["p50_ms"], 2),
                num(row["p99_ms"], 2),
                num(row.get("target_p50_ms")),
                met(row.get("met")),
            ]
            for row in api.get("results", [])
        ]
        lines += table(["endpoint", "p50 ms", "p99 ms", "target p50 ms", "met"], rows)
    if API_FINDINGS.exists():
        lines += [API_FINDINGS.read_text().strip(), ""]
    return lines if len(lines) > 2 else []


FRAME = re.compile(
    r'<title>(?P<name>.*?) \((?P<samples>[\d,]+) samples?, [\d.]+%\)</title><rect [^>]*?y="(?P<y>\d+)"'
    r'[^>]*?fg:x="(?P<x>\d+)" fg:w="(?P<w>\d+)"'
)


ROW_PX = 16  # the height of a frame's row in py-spy's SVG


def flame_top(svg: Path, limit: int = 8) -> tuple[int, list[tuple[str, float, float]]]:
    """(samples, [(function, self %, inclusive %)]) of a py-spy (inferno) flame graph, by function
    (line numbers merged; a function's inclusive time counted once when it recurses)."""
    frames = []
    for m in FRAME.finditer(svg.read_text(errors="replace")):
        name = re.sub(r":\d+\)$", ")", m.group("name").replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&"))
        frames.append((int(m.group("y")), int(m.group("x")), int(m.group("w")), name))
    if not frames:
        return 0, []
    by_row: dict[int, list[tuple[int, int, str]]] = {}
    for y, x, w, name in frames:
        by_row.setdefault(y, []).append((x, w, name))
    for row in by_row.values():
        row.sort()
    total = max(w for _, _, w, _ in frames)
    child_samples: Counter[tuple[int, int]] = Counter()
    ancestors: dict[tuple[int, int], frozenset[str]] = {}
    for y in sorted(by_row):  # py-spy draws the root ("all") at the top, each callee a row below
        parents = by_row.get(y - ROW_PX, [])
        starts = [p[0] for p in parents]
        for x, w, _name in by_row[y]:
            i = bisect.bisect_right(starts, x) - 1
            above: frozenset[str] = frozenset()
            if i >= 0 and parents[i][0] <= x < parents[i][0] + parents[i][1]:
                child_samples[(y - ROW_PX, parents[i][0])] += w
                above = ancestors[(y - ROW_PX, parents[i][0])] | {parents[i][2]}
            ancestors[(y, x)] = above
    own: Counter[str] = Counter()
    inclusive: Counter[str] = Counter()
    for y, x, w, name in frames:
        if name == "all":
            continue
        own[name] += w - child_samples[(y, x)]
        if name not in ancestors[(y, x)]:
            inclusive[name] += w
    top = [(name, 100 * n / total, 100 * inclusive[name] / total) for name, n in own.most_common(limit)]
    return total, top


def profiles_section() -> list[str]:
    svgs = sorted(p.name for p in RESULTS.glob("*.svg"))
    lines = ["## Flame graphs", ""]
    if svgs:
        lines += [
            "`py-spy record -o bench/results/<name>.svg --pid <pid> --duration 20` (py-spy 0.4.3), never during a "
            "measured run: " + ", ".join(f"`bench/results/{name}`" for name in svgs) + ".",
            "",
        ]
    else:
        lines += ["None recorded (BENCH_PROFILE=0).", ""]
    for name in svgs:
        samples, top = flame_top(RESULTS / name)
        if not top:
            continue
        lines += [f"`{name}` ({samples:,} samples), most self time:", ""]
        lines += table(
            ["function", "self %", "inclusive %"], [[f"`{fn}`", f"{own:.1f}", f"{incl:.1f}"] for fn, own, incl in top]
        )
    if FINDINGS.exists():
        lines += [FINDINGS.read_text().strip(), ""]
    return lines


def render() -> str:
    intake, e2e, roles, rss, api, rtb = (load(n) for n in ("intake", "e2e", "roles", "embedded_rss", "api", "rtb"))
    lines = [
        "# Benchmarks",
        "",
        "<!-- Generated by bench/report.py from bench/results/*.json and bench/findings.md: edit those. -->",
        "",
        "`make bench` runs every benchmark on the local services (PostgreSQL, Redis, Kafka from "
        "`scripts/services.sh`) and renders this page; `BENCH_QUICK=1 make bench` is a short smoke run. "
        "Each benchmark uses its own topics (random prefix, deleted afterwards), the `helios_bench_roles` database "
        "(the RTB benchmark: `helios_bench_rtb`) and Redis database 12. The intake benchmark also builds (with the machine's Go) and runs a Go anchor, "
        "`bench/anchors/`, alternated with Helios's handler. Raw results: `bench/results/*.json`.",
        "",
    ]
    lines += machine_section([intake, e2e, roles, rtb])
    lines += summary(intake, e2e, roles, rss, api, rtb)
    lines += intake_section(intake)
    lines += rtb_section(rtb)
    lines += e2e_section(e2e)
    lines += roles_section(roles)
    lines += rss_section(rss)
    lines += api_section(api)
    lines += profiles_section()
    return "\n".join(lines).rstrip() + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=REPO / "docs" / "benchmarks.md")
    args = parser.parse_args()
    args.out.write_text(render())
    print(f"wrote {args.out.relative_to(REPO) if args.out.is_relative_to(REPO) else args.out}")


if __name__ == "__main__":
    main()
