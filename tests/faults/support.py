"""Fault-injection support: stop/start the services this test run uses, a client that keeps
sending through outages, and the counts a fault case reports.

Services are controlled with `scripts/services.sh down|up <service>` on the ports this run uses
(DATABASE_URL, REDIS_URL, KAFKA_BOOTSTRAP_SERVERS) and the state dir in HELIOS_STATE_DIR (default
`$REPO/.services`, as in the script). A service that this state dir does not manage (another
engineer's, or an external one) is never touched: the test fails instead.
"""

import http.client
import json
import os
import re
import subprocess
import threading
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import pytest
from django.conf import settings
from django.db import connection

from conftest import REPO
from tests.e2e.harness import Sent, impressions

SERVICES_SH = REPO / "scripts" / "services.sh"
SERVICE_TIMEOUT_S = 180
ARTIFACTS = REPO / "test-artifacts"


def _port(url_port: int | None, default: int) -> int:
    return url_port if url_port is not None else default


class ServiceControl:
    """Stops and starts the PostgreSQL, Redis and Kafka this test run uses, via scripts/services.sh."""

    def __init__(self) -> None:
        self.state_dir = Path(os.environ.get("HELIOS_STATE_DIR") or REPO / ".services")
        db = connection.settings_dict
        kafka_port = settings.KAFKA_BOOTSTRAP_SERVERS.split(",")[0].strip().rpartition(":")[2]
        self.ports = {
            "postgres": int(db.get("PORT") or 5432),
            "redis": _port(urlparse(settings.REDIS_URL).port, 6379),
            "kafka": int(kafka_port),
        }
        self.controller_port = self._controller_port()

    def _controller_port(self) -> int:
        """The broker's controller port, read from the config the state dir started it with (a
        different one would make services.sh reformat the broker's storage: every message lost)."""
        config = self.state_dir / "kafka" / "server.properties"
        if not config.exists():
            pytest.fail(f"no Kafka broker managed in {self.state_dir}; set HELIOS_STATE_DIR to the services' state dir")
        match = re.search(r"^listeners=PLAINTEXT://[^:]+:(\d+),CONTROLLER://[^:]+:(\d+)$", config.read_text(), re.M)
        if match is None or int(match.group(1)) != self.ports["kafka"]:
            pytest.fail(f"the broker of {self.state_dir} does not listen on {self.ports['kafka']}")
        return int(match.group(2))

    def env(self) -> dict[str, str]:
        return {
            **os.environ,
            "HELIOS_STATE_DIR": str(self.state_dir),
            "HELIOS_PG_PORT": str(self.ports["postgres"]),
            "HELIOS_REDIS_PORT": str(self.ports["redis"]),
            "HELIOS_KAFKA_PORT": str(self.ports["kafka"]),
            "HELIOS_KAFKA_CONTROLLER_PORT": str(self.controller_port),
        }

    def _run(self, command: str, service: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            ["bash", str(SERVICES_SH), command, service],
            env=self.env(),
            capture_output=True,
            text=True,
            timeout=SERVICE_TIMEOUT_S,
            check=False,
        )

    def require_managed(self, service: str) -> None:
        """Fails unless `service` runs and is managed by this state dir (so `down` really stops it)."""
        status = self._run("status", service).stdout
        if not re.search(rf"^{service}\s+up\s+\d", status, re.M):
            pytest.fail(f"{service} on port {self.ports[service]} is not managed by {self.state_dir}: {status!r}")

    def down(self, service: str) -> None:
        result = self._run("down", service)
        assert result.returncode == 0, result.stderr
        assert self._run("status", service).returncode != 0, f"{service} still up after services.sh down"

    def up(self, service: str) -> None:
        result = self._run("up", service)
        assert result.returncode == 0, result.stdout + result.stderr


class Sender:
    """Sends each body once from a background thread over `threads` keep-alive connections, the
    way a careful client would through an outage: a refused connection (nothing was sent) is
    retried after a pause; a 503 is recorded and the thread waits its Retry-After (at most
    `max_wait_s`) before its next request; a connection lost after sending is recorded as status 0
    (its fate is unknown to the client). Only 202 answers are promises."""

    def __init__(
        self, port: int, bodies: Sequence[dict[str, Any]], *, threads: int = 4, max_wait_s: float = 1.0
    ) -> None:
        self.port = port
        self.sent = [Sent(body) for body in bodies]
        self.max_wait_s = max_wait_s
        self.retry_after: set[str] = set()  # Retry-After values seen on 503 answers
        self._next = 0
        self._answered = 0
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._threads = [threading.Thread(target=self._work, daemon=True) for _ in range(threads)]

    @property
    def answered(self) -> int:
        """Bodies done with (answered or given up)."""
        return self._answered

    def start(self) -> "Sender":
        for thread in self._threads:
            thread.start()
        return self

    def join(self, timeout_s: float) -> None:
        deadline = time.monotonic() + timeout_s
        for thread in self._threads:
            thread.join(max(deadline - time.monotonic(), 0))
        self._stop.set()
        assert not any(t.is_alive() for t in self._threads), f"sender still running after {timeout_s} s"

    def _take(self) -> Sent | None:
        with self._lock:
            if self._next >= len(self.sent) or self._stop.is_set():
                return None
            item = self.sent[self._next]
            self._next += 1
            return item

    def _work(self) -> None:
        conn: http.client.HTTPConnection | None = None
        while (item := self._take()) is not None:
            while not self._stop.is_set():
                if conn is None:
                    conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
                    try:
                        conn.connect()
                    except OSError:  # the handler is not listening (killed, restarting): nothing sent
                        conn = None
                        time.sleep(0.05)
                        continue
                try:
                    conn.request("POST", "/bid", json.dumps(item.body), {"Content-Type": "application/json"})
                    response = conn.getresponse()
                    raw = response.read()
                except (OSError, http.client.HTTPException):
                    # Sent on a connection that then broke: its fate is unknown, it is not resent.
                    conn.close()
                    conn = None
                    item.status = 0
                    break
                item.status = response.status
                item.answer = json.loads(raw) if raw and response.status in (202, 503) else {}
                if response.will_close:
                    conn.close()
                    conn = None
                if response.status == 503:
                    retry_after = response.getheader("Retry-After") or ""
                    with self._lock:
                        self.retry_after.add(retry_after)
                    time.sleep(min(float(retry_after or 0), self.max_wait_s))
                break
            with self._lock:
                self._answered += 1
        if conn is not None:
            conn.close()

    def statuses(self) -> Counter[int]:
        return Counter(s.status for s in self.sent)


def accepted_keys(sent: Sequence[Sent]) -> set[tuple[str, str]]:
    """(request id, imp id) of every impression the handler answered 202 for."""
    keys: set[tuple[str, str]] = set()
    for item in sent:
        if item.status == 202:
            imps = impressions(item)
            assert item.answer["imps"] == len(imps), item.answer
            keys.update((item.answer["request_id"], imp_id) for imp_id, _, _ in imps)
    return keys


def sent_keys(sent: Sequence[Sent]) -> set[tuple[str, str]]:
    """Every impression the client sent, answered or not."""
    keys: set[tuple[str, str]] = set()
    for item in sent:
        request_id = item.body.get("request_id") or item.body.get("id")
        keys.update((str(request_id), imp_id) for imp_id, _, _ in impressions(item))
    return keys


def metric_value(text: str, name: str) -> float:
    """The value of an unlabelled sample in a Prometheus text exposition (0 when absent)."""
    match = re.search(rf"^{re.escape(name)} (\S+)$", text, re.M)
    return float(match.group(1)) if match else 0.0


@dataclass
class CaseResult:
    """One row of the fault table."""

    case: str
    fault: str
    sent_requests: int
    answers: dict[str, int]
    accepted_imps: int
    stored: int
    lost: int
    duplicate_rows: int
    duplicate_deliveries: int
    stored_without_202: int
    dlq: int
    restarted: list[str] = field(default_factory=list)
    notes: dict[str, Any] = field(default_factory=dict)
    duration_s: float = 0.0


def record_result(result: CaseResult, name: str = "fault_matrix.json") -> Path:
    """Adds (or replaces) the case's row in test-artifacts/<name>."""
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / name
    rows: dict[str, Any] = json.loads(path.read_text()) if path.exists() else {}
    rows[result.case] = result.__dict__ | {"recorded_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
    path.write_text(json.dumps(rows, indent=2, sort_keys=True) + "\n")
    return path


def group_backlog(partitions: int = 3) -> dict[str, list[tuple[int, int]]]:
    """Per consumer role: (committed offset, high watermark) of each partition of its input topic,
    to tell a stalled role (committed behind, not moving) from a message never written."""
    from confluent_kafka import Consumer, TopicPartition

    from intake.tests.helpers import kafka_config
    from pipeline import topics
    from pipeline.roles import ROLES, consumer_group

    backlog: dict[str, list[tuple[int, int]]] = {}
    for role, spec in ROLES.items():
        if spec.topic is None:
            continue
        reader = Consumer(kafka_config(**{"group.id": consumer_group(role), "enable.auto.commit": False}))
        try:
            wanted = [TopicPartition(topics.resolved(spec.topic), p) for p in range(partitions)]
            committed = reader.committed(wanted, timeout=10)
            backlog[role] = [(tp.offset, reader.get_watermark_offsets(tp, timeout=10)[1]) for tp in committed]
        finally:
            reader.close()
    return backlog
