"""Shared fixtures. Tests that need a real service fail (never skip) when it is missing:
`make test` starts PostgreSQL, Redis and Kafka first."""

import os
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings

from pipeline.processes import free_port

__all__ = ["free_port"]  # the tests import it from here

REPO = Path(__file__).resolve().parent


def service_env(**extra: str) -> dict[str, str]:
    """The environment for a role process started by a test: the test's services and settings."""
    env = dict(os.environ)
    env.setdefault("KAFKA_BOOTSTRAP_SERVERS", settings.KAFKA_BOOTSTRAP_SERVERS)
    env.setdefault("REDIS_URL", settings.REDIS_URL)
    env["PYTHONUNBUFFERED"] = "1"
    env.update(extra)
    return env


def manage(*args: str, env: dict[str, str] | None = None, log: Path | None = None) -> subprocess.Popen[bytes]:
    """Starts `manage.py <args>` as its own OS process, as a user would."""
    out = open(log, "ab") if log else subprocess.DEVNULL  # noqa: SIM115 - handed to the child
    return subprocess.Popen(
        [sys.executable, str(REPO / "manage.py"), *args],
        cwd=REPO,
        env=env or service_env(),
        stdout=out,
        stderr=subprocess.STDOUT,
    )


@pytest.fixture
def topic_prefix(settings) -> Iterator[str]:
    """Fresh, uniquely named pipeline topics (and DLQs) on the real broker for one test."""
    from pipeline.admin_kafka import admin_client, ensure_topics
    from pipeline.readiness import kafka as kafka_reachable

    try:
        kafka_reachable()
    except Exception as exc:  # noqa: BLE001 - any failure means the broker is unusable
        pytest.fail(f"Kafka is not reachable at {settings.KAFKA_BOOTSTRAP_SERVERS}: {exc} (run `make services-up`)")
    prefix = f"t{uuid.uuid4().hex[:10]}_"
    settings.HELIOS_TOPIC_PREFIX = prefix
    settings.HELIOS_CONSUMER_GROUP_PREFIX = f"{prefix}helios"
    ensure_topics(partitions=settings.HELIOS_TOPIC_PARTITIONS)
    yield prefix
    from confluent_kafka import KafkaError, KafkaException

    from pipeline import topics

    # Keep the client until the deletes are confirmed: a client destroyed first cancels them.
    admin = admin_client()
    for future in admin.delete_topics(topics.all_topics(), operation_timeout=10).values():
        try:
            future.result(timeout=30)
        except KafkaException as exc:
            if exc.args[0].code() != KafkaError.UNKNOWN_TOPIC_OR_PART:  # some tests delete a topic themselves
                raise


@pytest.fixture
def artifacts_dir() -> Path:
    path = REPO / "test-artifacts"
    path.mkdir(exist_ok=True)
    return path


class PrivateRedis:
    """A redis-server of the test's own on a free port, which the test may stop and restart."""

    def __init__(self, workdir: Path) -> None:
        import shutil

        binary = shutil.which("redis-server")
        if binary is None:
            pytest.fail("redis-server is not installed (run `make services-up`)")
        self.binary = binary
        self.workdir = workdir
        self.port = free_port()
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        import redis

        args = [self.binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]
        self.proc = subprocess.Popen(
            [*args, "--dir", str(self.workdir)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        client = redis.Redis(port=self.port, socket_connect_timeout=0.5)
        for _ in range(100):
            try:
                if client.ping():
                    return
            except redis.RedisError:
                time.sleep(0.05)
        pytest.fail("private redis-server did not start")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout=10)


@pytest.fixture
def private_redis(tmp_path) -> Iterator[PrivateRedis]:
    server = PrivateRedis(tmp_path)
    server.start()
    yield server
    server.stop()


# Debian's Chromium, driven by Playwright's Python package (its own browser downloads are never used).
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture
def playwright() -> Iterator[Any]:
    try:
        from playwright.sync_api import sync_playwright
    except ImportError as exc:
        pytest.fail(f"Playwright's Python package is missing ({exc}): pip install -r requirements-dev.txt")
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing: run scripts/browser-deps.sh (Debian's chromium package)")
    with sync_playwright() as pw:
        yield pw


@pytest.fixture
def page(playwright) -> Iterator[Any]:
    with tempfile.TemporaryDirectory(prefix="chromium-profile-") as profile:
        context = playwright.chromium.launch_persistent_context(
            profile,
            executable_path=str(CHROMIUM),
            headless=True,
            args=CHROMIUM_ARGS,
            viewport={"width": 1440, "height": 900},
        )
        try:
            yield context.pages[0] if context.pages else context.new_page()
        finally:
            context.close()


@pytest.fixture(scope="session", autouse=True)
def _stop_campaign_refresher() -> Iterator[None]:
    """A bidder or handler built by a test shares the process's campaign refresher; stop its thread
    (and its database connection) before the test database is dropped."""
    yield
    from campaigns.refresher import SHARED

    SHARED.stop()
