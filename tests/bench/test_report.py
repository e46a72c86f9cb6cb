"""bench/report.py renders the Go anchor's ratio and the CPU per bid from the results' JSON."""

import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))  # bench/ holds scripts, not a package
import report

SIDE = {
    "accepted": 100_000,
    "not_202": 0,
    "socket_errors": {"connect": 0, "read": 0, "write": 0, "timeout": 0},
    "messages_on_topic": 100_000,
    "every_202_on_topic": True,
    "p50_ms": 3.0,
    "p90_ms": 5.0,
    "p99_ms": 9.0,
    "p99_9_ms": 20.0,
    "cpu_ms_per_accepted": {"handler": 0.05, "kafka": 0.01, "machine": 0.1},
}


def test_the_page_shows_the_anchor_ratio_and_the_cpu_per_bid(tmp_path, monkeypatch):
    intake = {
        **SIDE,
        "accepted_per_s": 12_000.0,
        "machine": {"nproc": 2, "go": "go version go1.26"},
        "command": "wrk -t2 -c64 -d30s --latency -s bench/intake_bid.lua <handler>/bid",
        "setup": {"server": "manage.py runkafka handler", "anchor": "Go", "seconds": 30, "rounds": 2, "partitions": 3},
        "anchor": {**SIDE, "accepted_per_s": 16_000.0, "p99_ms": 8.0},
        "ratio": {
            "accepted_per_s": 0.75,
            "helios_accepted_per_s": 12_000.0,
            "go_accepted_per_s": 16_000.0,
            "helios_p99_ms": 9.0,
            "go_p99_ms": 8.0,
            "target": 1.0,
            "met": False,
        },
        "runs": [
            {**SIDE, "side": "helios", "accepted_per_s": 12_000.0},
            {**SIDE, "side": "go", "accepted_per_s": 16_000.0},
        ],
        "targets": {"accepted_per_s": 10_000, "p99_ms": 10.0},
    }
    step = {
        "rate_per_s": 1000,
        "accepted_per_s": 1000.0,
        "stored_per_s": 1700.0,
        "latency_p50_ms": 20.0,
        "latency_p99_ms": 90.0,
        "drain_s": 0.1,
        "checks": {},
        "sustained": True,
        "passed": True,
        "cpu_ms_per_bid": {"handler": 0.2, "roles": 1.1, "kafka": 0.4, "postgres": 0.1, "machine": 1.8},
    }
    e2e = {
        "machine": {"nproc": 2},
        "setup": {"roles": "roles", "generator": "loadgen", "seconds_per_step": 30, "partitions": 3},
        "max_sustained_rate_per_s": 1000,
        "p50_ms_at_1000": 20.0,
        "p50_ms_at_100": 7.5,
        "p99_ms_at_100": 60.0,
        "targets": {
            "sustained_rate_per_s": 2000,
            "p99_ms": 100.0,
            "p50_ms_at_1000": 25.0,
            "p50_ms_at_100": 10.0,
            "p99_ms_at_100": 50.0,
        },
        "met": {"rate": False, "p50_at_1000": True, "at_100": False},
        "steps": [step],
    }
    (tmp_path / "intake.json").write_text(json.dumps(intake))
    (tmp_path / "e2e.json").write_text(json.dumps(e2e))
    monkeypatch.setattr(report, "RESULTS", tmp_path)
    monkeypatch.setattr(report, "FINDINGS", tmp_path / "none.md")

    page = report.render()

    assert "| Intake vs the Go anchor (same run, alternated): Helios accepted/s ÷ Go accepted/s | 0.75x" in page
    assert "| Go anchor (mean of its runs) | 16,000 |" in page
    assert "| End to end: whole-machine CPU per bid at 1,000 bids/s | 1.80 ms | ≤ 0.8 ms | **not met** |" in page
    assert (
        "| End to end: highest sustained bids/s with p99 received→stored ≤ 100 ms | 1,000 | ≥ 2,000 | **not met** |"
        in page
    )
    assert "| End to end: p50 received→stored at 1,000 bids/s | 20.0 ms | ≤ 25 ms | **met** |" in page
    assert (
        "| End to end: p50 / p99 received→stored at 100 bids/s | 7.5 ms / 60.0 ms | ≤ 10 ms / ≤ 50 ms | **not met** |"
        in page
    )
    assert "| 1,000 | 1,000 | 0.200 | — | — | — | — | 1.100 | — | 0.400 | 0.100 | 1.800 |" in page


def test_the_page_shows_the_rtb_figures_beside_the_issue_targets(tmp_path, monkeypatch):
    handler = {"late": {"total": 3.0}, "profile_lookups": {"found": 900.0, "not_found": 100.0}}
    closed = {"answers_per_s": 3500.0, "bid_rate": 0.4, "p50_ms": 12.0, "p99_ms": 45.0, "other": 0, "side": "rtb",
              "cpu_ms_per_answer": {"handler": 0.25, "profiles": 0.01, "kafka": 0.05, "machine": 0.55},
              "handler": handler, "load_average_during": "2.0 2.0 2.0"}  # fmt: skip
    open_loop = {"rate_per_s": 1000, "bid_rate": 0.4, "p50_ms": 2.0, "p99_ms": 8.0, "other": 0, "late_answers": 2,
                 "side": "rtb_open", "cpu_ms_per_answer": {"handler": 0.5}, "handler": handler,
                 "load_average_during": "1.0 1.0 1.0"}  # fmt: skip
    rtb = {
        "machine": {"nproc": 2},
        "command": "wrk -t2 -c64 -d30s --latency -s bench/rtb_bid.lua <handler>/openrtb2/bid -- <bodies>",
        "open_loop_command": "bench/loadgen.py --rate 1000 --duration 30 --bodies <bodies> (64 connections)",
        "setup": {
            "server": "handler",
            "campaigns": "house + 5",
            "synthetic_profiles": 20000,
            "bodies": 2000,
            "currency_rates": {"EUR": 1.08},
            "rounds": 2,
            "seconds": 30,
            "open_rate_per_s": 1000,
        },
        "closed": {**closed, "load_averages": ["2.0 2.0 2.0"]},
        "open": {**open_loop, "load_averages": ["1.0 1.0 1.0"]},
        "intake": {"accepted_per_s": 10_000.0, "p99_ms": 9.0},
        "ratio_rtb_to_intake": 0.35,
        "runs": [open_loop, closed, {"side": "intake"}],
        "targets": {
            "answers_per_s": 3000,
            "p99_ms": 20.0,
            "open_rate_per_s": 1000,
            "open_p99_ms": 10.0,
            "late_answers": 0,
        },
        "met": {"answers_per_s": True, "p99_ms": False, "open_p99_ms": True, "late_answers": False},
        "profile_breaker_opened": 1,
    }
    (tmp_path / "rtb.json").write_text(json.dumps(rtb))
    monkeypatch.setattr(report, "RESULTS", tmp_path)
    monkeypatch.setattr(report, "FINDINGS", tmp_path / "none.md")

    page = report.render()

    assert "| RTB: answers/s (200 + 204), wrk, 64 connections | 3,500 | ≥ 3,000 | **met** |" in page
    assert "| RTB: p99 latency, 64 connections | 45.00 ms | ≤ 20 ms | **not met** |" in page
    assert "| RTB: open loop at 1,000/s: answers after the request's deadline | 2 | 0 | **not met** |" in page
    assert "| RTB answers/s ÷ intake `/bid` accepted/s (same handler, same run) | 0.350 (3,500 vs 10,000/s)" in page
    assert "RTB ÷ intake = **0.350**" in page
    assert "found 900, not_found 100" in page
