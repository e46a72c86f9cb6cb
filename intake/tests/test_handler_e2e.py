"""Layer 4: `manage.py runkafka handler` as a real OS process, bids over real HTTP, real broker."""

import json
import signal
import subprocess
import time
import urllib.error
import urllib.request

import pytest

from conftest import free_port, manage, service_env
from intake.tests.helpers import read_messages
from pipeline import topics
from pipeline.messages import BidRequest, decode

pytestmark = [pytest.mark.kafka, pytest.mark.e2e]


def get(url: str) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def post(url: str, doc: object) -> tuple[int, bytes]:
    request = urllib.request.Request(
        url, data=json.dumps(doc).encode(), headers={"Content-Type": "application/json"}, method="POST"
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def wait_healthy(url: str, process: subprocess.Popen[bytes], timeout_s: float = 30.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        assert process.poll() is None, f"the handler exited with {process.returncode} during start-up"
        try:
            if get(url)[0] == 200:
                return
        except OSError:
            pass
        time.sleep(0.1)
    pytest.fail(f"{url} never answered 200")


@pytest.mark.parametrize("stop_signal", [signal.SIGTERM, signal.SIGINT])
def test_runkafka_handler_accepts_bids_and_stops_cleanly(topic_prefix, artifacts_dir, stop_signal):
    port, metrics_port = free_port(), free_port()
    log = artifacts_dir / f"handler-e2e-{topic_prefix}{stop_signal.name}.log"
    env = service_env(
        HELIOS_HANDLER_PORT=str(port),
        HELIOS_HANDLER_METRICS_PORT=str(metrics_port),
        HELIOS_TOPIC_PREFIX=topic_prefix,
        HELIOS_LOG_LEVEL="INFO",
    )
    process = manage("runkafka", "handler", env=env, log=log)
    try:
        wait_healthy(f"http://127.0.0.1:{port}/healthz", process)
        doc = {
            "request_id": "e2e-1",
            "user_id": "user-001",
            "site": {"domain": "news.com"},
            "device": {"ip": "192.0.2.77", "user_agent": "E2E-Agent/9.9"},
            "ad_slots": [{"id": "s1", "min_bid": 0.25, "format": ["300x250"]}],
        }
        status, body = post(f"http://127.0.0.1:{port}/bid", doc)
        assert status == 202
        assert json.loads(body) == {"status": "accepted", "request_id": "e2e-1", "imps": 1}
        assert post(f"http://127.0.0.1:{port}/bid", [1])[0] == 400

        [message] = read_messages(topics.resolved(topics.BID_REQUESTS), expect=1)
        assert message.key() == b"e2e-1"
        request = decode(message.value(), BidRequest)
        assert (request.request_id, request.user_id, request.device_ua) == ("e2e-1", "user-001", "E2E-Agent/9.9")

        status, metrics = get(f"http://127.0.0.1:{metrics_port}/metrics")
        assert status == 200
        assert b'bid_requests_total{status="202"} 1.0' in metrics
        assert b'bid_requests_total{status="400"} 1.0' in metrics
        assert b"request_processing_duration_seconds_bucket" in metrics
        assert b"kafka_publish_errors_total 0.0" in metrics
        assert b"active_requests 0.0" in metrics
        status, ready = get(f"http://127.0.0.1:{metrics_port}/readyz")
        assert (status, json.loads(ready)) == (200, {"status": "ready"})
        assert get(f"http://127.0.0.1:{metrics_port}/healthz")[0] == 200

        process.send_signal(stop_signal)
        assert process.wait(timeout=20) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()

    lines = [json.loads(line) for line in log.read_text().splitlines() if line.strip()]
    assert all({"timestamp", "level", "service", "message"} <= set(line) for line in lines)
    assert {line["service"] for line in lines} == {"handler"}
    text = log.read_text()
    assert "192.0.2.77" not in text
    assert "E2E-Agent" not in text
    assert any("handler stopped" in line["message"] for line in lines)
    # One start and one stop, never a line per request at INFO.
    assert len([line for line in lines if line["level"] == "INFO"]) <= 8
