"""Renders the fault matrix results (test-artifacts/fault_matrix.json) as a Markdown table.

    python -m tests.faults.report                 # print the table
    python -m tests.faults.report --update-docs   # replace the tables in docs/reliability.md

The fault tests write test-artifacts/fault_matrix.md after each case; the committed
docs/reliability.md holds the tables of a full run (fault matrix, the overload figures of
test-artifacts/overload.json and the 3-broker case of test-artifacts/kafka_cluster.json), each
between its two marker comments.
"""

import argparse
import json
import sys
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
RESULTS = REPO / "test-artifacts" / "fault_matrix.json"
OVERLOAD = REPO / "test-artifacts" / "overload.json"
CLUSTER = REPO / "test-artifacts" / "kafka_cluster.json"  # tests/faults/test_kafka_cluster.py
DOC = REPO / "docs" / "reliability.md"
ORDER = [
    "kill-handler",
    "kill-bidder",
    "kill-auction",
    "kill-outcomes",
    "kill-profiles",
    "restart-redis",
    "restart-postgres",
    "restart-kafka",
]
COLUMNS = (
    "case",
    "fault",
    "answers",
    "accepted imps",
    "stored",
    "lost",
    "dup rows",
    "dup deliveries",
    "stored w/o 202",
    "DLQ",
    "s",
)


def _answers(answers: dict[str, int]) -> str:
    names = {"0": "no answer"}
    return ", ".join(f"{names.get(code, code)}: {n}" for code, n in sorted(answers.items()))


def render(rows: dict[str, Any]) -> str:
    ordered = sorted(rows.values(), key=lambda r: ORDER.index(r["case"]) if r["case"] in ORDER else len(ORDER))
    lines = ["| " + " | ".join(COLUMNS) + " |", "|" + "---|" * len(COLUMNS)]
    for r in ordered:
        cells = [
            f"`{r['case']}`",
            r["fault"],
            _answers(r["answers"]),
            r["accepted_imps"],
            r["stored"],
            r["lost"],
            r["duplicate_rows"],
            r["duplicate_deliveries"],
            r["stored_without_202"],
            r["dlq"],
            r["duration_s"],
        ]
        lines.append("| " + " | ".join(str(c) for c in cells) + " |")
    return "\n".join(lines) + "\n"


def write_markdown(results: Path = RESULTS) -> Path:
    """Writes the table next to the JSON results; returns its path."""
    target = results.with_suffix(".md")
    target.write_text(render(json.loads(results.read_text())))
    return target


def render_overload(figures: dict[str, Any]) -> str:
    load = figures["load"]["statuses"]
    rows = [
        ("accepted per second, measured (64 connections)", figures["capacity_accepted_per_s"]),
        (f"answers per second under load ({figures['load_connections']} connections)", figures["load_answered_per_s"]),
        (
            "requests in flight under load / producer queue",
            f"{figures['load_connections']} / {figures['queue_max']}"
            f" ({figures['load_connections'] / figures['queue_max']:.1f}x)",
        ),
        ("answers under load", ", ".join(f"{code}: {n}" for code, n in sorted(load.items()))),
        (
            "503 without Retry-After, socket errors",
            f"{figures['load']['no_retry_after']}, {sum(figures['load']['socket_errors'].values())}",
        ),
        (
            "client latency under load, p99 / max (ms)",
            f"{figures['load'].get('latency_p99_ms', '-')} / {figures['load'].get('latency_max_ms', '-')}",
        ),
        (
            "handler RSS start / peak / end (MiB)",
            f"{figures['rss_start_mib']} / {figures['rss_peak_mib']} / {figures['rss_end_mib']}",
        ),
        ("accepted (202) / stored / lost", f"{figures['accepted']} / {figures['stored']} / {figures['lost']}"),
        (
            "stored without a 202 (late acks counted by the handler)",
            f"{figures['stored_without_202']} ({figures['late_acks']})",
        ),
    ]
    lines = ["| | |", "|---|---|", *(f"| {name} | {value} |" for name, value in rows)]
    return "\n".join(lines) + "\n"


def _replace_block(text: str, name: str, block: str) -> str:
    begin, end = f"<!-- {name}:begin -->", f"<!-- {name}:end -->"
    head, found_begin, rest = text.partition(begin)
    _, found_end, tail = rest.partition(end)
    if not (found_begin and found_end):
        raise SystemExit(f"no {begin} ... {end} markers")
    return f"{head}{begin}\n{block}{end}{tail}"


def update_docs(results: Path = RESULTS, doc: Path = DOC, overload: Path = OVERLOAD) -> None:
    text = _replace_block(doc.read_text(), "fault-matrix", render(json.loads(results.read_text())))
    if overload.exists():
        text = _replace_block(text, "overload", render_overload(json.loads(overload.read_text())))
    if CLUSTER.exists():
        text = _replace_block(text, "kafka-cluster", render(json.loads(CLUSTER.read_text())))
    doc.write_text(text)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--results", type=Path, default=RESULTS)
    parser.add_argument("--update-docs", action="store_true", help=f"rewrite the table in {DOC.relative_to(REPO)}")
    args = parser.parse_args(argv)
    if args.update_docs:
        update_docs(args.results)
    else:
        sys.stdout.write(render(json.loads(args.results.read_text())))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
