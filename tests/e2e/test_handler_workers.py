"""HELIOS_HANDLER_WORKERS: handler processes sharing one port (SO_REUSEPORT), owned by the first."""

import os
import signal
import time
from pathlib import Path

import pytest

from tests.e2e.harness import Platform, post_all, wait_for
from tests.e2e.test_pipeline import redis_url

pytestmark = [pytest.mark.e2e]


def accepted(platform: Platform, port: int) -> float:
    from pipeline.processes import http_get

    for line in http_get(port, "/metrics")[1].splitlines():
        if line.startswith('bid_requests_total{status="202"}'):
            return float(line.rsplit(" ", 1)[1])
    return 0.0


def alive(pid: int) -> bool:
    """Running (a zombie waiting for its new parent to reap it counts as gone)."""
    try:
        os.kill(pid, 0)
        return Path(f"/proc/{pid}/stat").read_text().split()[2] != "Z"
    except (ProcessLookupError, FileNotFoundError):
        return False


def worker_pids(parent: int) -> list[int]:
    return [int(pid) for pid in Path(f"/proc/{parent}/task/{parent}/children").read_text().split()]


def test_two_workers_share_the_port_stop_together_and_die_with_their_owner(topic_prefix, tmp_path):
    with Platform(tmp_path, topic_prefix, redis_url(), HELIOS_HANDLER_WORKERS="2") as platform:
        proc = platform.start("handler")
        metrics_ports = (platform.ports["handler"], platform.ports["handler"] + 1)
        sent: list[int] = []

        def both_served() -> bool:  # the second worker listens a moment after its metrics server
            batch = post_all(
                platform.handler_port, [{"request_id": f"w{len(sent)}-{i}"} for i in range(100)], threads=16
            )
            sent.extend(s.status for s in batch)
            return min(accepted(platform, port) for port in metrics_ports) > 0

        wait_for(both_served, 60, "both workers to serve")
        assert set(sent) == {202}
        assert sum(accepted(platform, port) for port in metrics_ports) == len(sent)  # the kernel spread them

        [worker] = worker_pids(proc.pid)
        platform.kill("handler")  # kill -9 of the owner: its worker must not live on alone
        wait_for(lambda: not alive(worker), 15, "the worker to exit")

        proc = platform.start("handler")
        [worker] = worker_pids(proc.pid)
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(30) == 0
        deadline = time.monotonic() + 15
        while alive(worker) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not alive(worker)
