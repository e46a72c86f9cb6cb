"""Overload: the handler driven far past what it can accept, with the whole pipeline running.

The producer queue is made small (HELIOS_PRODUCER_QUEUE_MAX) and the intake deadline short
(HELIOS_INTAKE_DEADLINE_S), and wrk keeps many more requests in flight than the queue holds. What
a client must see: only 202 and 503 answers, every 503 with Retry-After, a handler whose memory stays
bounded, and every impression answered 202 stored. The figures go to test-artifacts/overload.json.
"""

import json
import re
import shutil
import subprocess
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from django.db import connection

from conftest import REPO
from outcomes.models import AuctionOutcome
from tests.e2e.harness import Platform, wait_for
from tests.e2e.test_pipeline import redis_url
from tests.faults.support import ARTIFACTS, metric_value

pytestmark = [pytest.mark.slow, pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

LUA = Path(__file__).with_name("overload.lua")
QUEUE_MAX = 200  # messages waiting for Kafka's acknowledgement before the handler answers 503
DEADLINE_S = 0.5
MEASURE_S = 3  # closed loop, few connections: what the handler accepts with the pipeline running
MEASURE_CONNECTIONS = 64
LOAD_S = 30
LOAD_CONNECTIONS = 512  # far more requests in flight than the producer queue admits
# A request unanswered this long counts as hung (wrk's timeout): a liveness bound, not a latency
# target (the figures file has the latencies). Shorter than LOAD_S, or wrk could not see a hang.
CLIENT_TIMEOUT_S = 20
RSS_GROWTH_MAX_KIB = 150 * 1024


def run_wrk(port: int, *, connections: int, duration_s: int, prefix: str, out_dir: Path) -> dict[str, Any]:
    binary = shutil.which("wrk")
    if binary is None:
        pytest.fail("wrk is not installed (apt-get install wrk)")
    out_dir.mkdir(parents=True, exist_ok=True)
    result = subprocess.run(
        [
            *(
                binary,
                "-t2",
                f"-c{connections}",
                f"-d{duration_s}s",
                "--timeout",
                f"{CLIENT_TIMEOUT_S}s",
                "-s",
                str(LUA),
            ),
            *(f"http://127.0.0.1:{port}/bid", "--", prefix, str(out_dir)),
        ],
        capture_output=True,
        text=True,
        timeout=duration_s + CLIENT_TIMEOUT_S + 60,
        check=True,
        cwd=REPO,
    )
    match = re.search(r"^RESULT (.*)$", result.stdout, re.M)
    assert match, result.stdout + result.stderr
    summary: dict[str, Any] = json.loads(match.group(1))
    summary["accepted_ids"] = (out_dir / "accepted.txt").read_text().split()
    return summary


def rss_kib(pid: int) -> int:
    status = Path(f"/proc/{pid}/status").read_text()
    match = re.search(r"^VmRSS:\s+(\d+) kB$", status, re.M)
    assert match
    return int(match.group(1))


class RssSampler(threading.Thread):
    def __init__(self, pid: int, interval_s: float = 0.25) -> None:
        super().__init__(daemon=True)
        self.pid = pid
        self.interval_s = interval_s
        self.samples: list[int] = []
        self.done = threading.Event()

    def run(self) -> None:
        while not self.done.wait(self.interval_s):
            self.samples.append(rss_kib(self.pid))


@pytest.fixture
def platform(topic_prefix, tmp_path):
    with Platform(
        tmp_path,
        topic_prefix,
        redis_url(),
        HELIOS_PRODUCER_QUEUE_MAX=str(QUEUE_MAX),
        HELIOS_INTAKE_DEADLINE_S=str(DEADLINE_S),
    ) as pf:
        pf.seed_profiles()
        yield pf


def test_overload_answers_202_or_503_keeps_memory_bounded_and_stores_every_202(platform, tmp_path):
    platform.start_all()
    handler_pid = platform.procs["handler"].pid

    measured = run_wrk(
        platform.handler_port,
        connections=MEASURE_CONNECTIONS,
        duration_s=MEASURE_S,
        prefix="cap-",
        out_dir=tmp_path / "measure",
    )
    capacity = measured["statuses"].get("202", 0) / measured["duration_s"]
    rss_start = rss_kib(handler_pid)
    sampler = RssSampler(handler_pid)
    sampler.start()
    load = run_wrk(
        platform.handler_port,
        connections=LOAD_CONNECTIONS,
        duration_s=LOAD_S,
        prefix="ov-",
        out_dir=tmp_path / "load",
    )
    sampler.done.set()
    sampler.join()
    rss_end = rss_kib(handler_pid)
    handler_metrics = platform.metrics("handler")

    accepted = set(measured["accepted_ids"]) | set(load["accepted_ids"])
    connection.close()

    def stored() -> set[str]:
        return set(
            AuctionOutcome.objects.filter(bid_id__regex=r"^(cap|ov)-").values_list("bid_id", flat=True).iterator()
        )

    started_drain = time.monotonic()
    wait_for(lambda: accepted <= stored(), 240, "every accepted impression stored", interval_s=1)
    drain_s = time.monotonic() - started_drain
    rows = stored()
    answered = sum(load["statuses"].values())
    figures = {
        "queue_max": QUEUE_MAX,
        "deadline_s": DEADLINE_S,
        "measure": {k: v for k, v in measured.items() if k != "accepted_ids"},
        "capacity_accepted_per_s": round(capacity),
        "load_connections": LOAD_CONNECTIONS,
        "load": {k: v for k, v in load.items() if k != "accepted_ids"},
        "load_answered_per_s": round(answered / load["duration_s"]),
        "load_accepted_per_s": round(load["statuses"].get("202", 0) / load["duration_s"]),
        "rss_start_mib": round(rss_start / 1024, 1),
        "rss_peak_mib": round(max([*sampler.samples, rss_end]) / 1024, 1),
        "rss_end_mib": round(rss_end / 1024, 1),
        "accepted": len(accepted),
        "stored": len(accepted & rows),
        "lost": len(accepted - rows),
        "stored_without_202": len(rows - accepted),
        "late_acks": int(metric_value(handler_metrics, "helios_intake_late_acks_total")),
        "drain_after_load_s": round(drain_s, 1),
    }
    ARTIFACTS.mkdir(exist_ok=True)
    (ARTIFACTS / "overload.json").write_text(json.dumps(figures, indent=2) + "\n")

    assert set(load["statuses"]) <= {"202", "503"}, load["statuses"]
    assert load["statuses"].get("503", 0) > 0, "the load did not overload the handler"
    assert load["no_retry_after"] == 0
    assert load["socket_errors"] == {"connect": 0, "read": 0, "write": 0, "timeout": 0}
    assert max([*sampler.samples, rss_end]) <= rss_start + RSS_GROWTH_MAX_KIB, figures
    assert figures["lost"] == 0
    assert figures["stored"] == len(accepted) > 0
    assert platform.procs["handler"].poll() is None
