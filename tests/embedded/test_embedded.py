"""Embedded mode: all of Helios in one process with no external services."""

import importlib
import json
import subprocess
import sys
import urllib.request

import pytest

from conftest import REPO, free_port, manage, service_env
from pipeline.roles import ROLES
from pipeline.runner import build_role
from pipeline.transports import KafkaTransport, LocalTransport
from tests.e2e.harness import http_get, wait_for

CONSUMER_ROLES = [name for name, spec in ROLES.items() if spec.topic is not None]


@pytest.mark.kafka
@pytest.mark.parametrize("name", CONSUMER_ROLES)
def test_each_role_is_built_by_the_same_factory_in_both_modes(name, topic_prefix, monkeypatch):
    module, attribute = ROLES[name].factory.rsplit(".", 1)
    real_factory = ROLES[name].load()
    built_by = []

    def spy(ctx, *args, **kwargs):
        built_by.append(ctx.role)
        return real_factory(ctx, *args, **kwargs)

    monkeypatch.setattr(importlib.import_module(module), attribute, spy)
    roles = [build_role(name, KafkaTransport()), build_role(name, LocalTransport())]
    try:
        assert built_by == [name, name]
    finally:
        for role in roles:
            role.shutdown()
            role.run()


@pytest.fixture
def embedded(tmp_path):
    """`manage.py runembedded` as a user starts it, with every external service pointed at a
    closed port: the test proves it needs none of them."""
    closed = free_port()
    ports = {"web": free_port(), "handler": free_port(), "profiles": free_port()}
    env = service_env(
        DATABASE_URL=f"sqlite:///{tmp_path / 'helios.sqlite3'}",
        KAFKA_BOOTSTRAP_SERVERS=f"127.0.0.1:{closed}",
        REDIS_URL=f"redis://127.0.0.1:{closed}/0",
        HELIOS_PUBLIC_API="true",
        HELIOS_WEB_PORT=str(ports["web"]),
        HELIOS_HANDLER_PORT=str(ports["handler"]),
        HELIOS_PROFILES_PORT=str(ports["profiles"]),
    )
    subprocess.run([sys.executable, "manage.py", "migrate", "--noinput", "-v0"], cwd=REPO, env=env, check=True)
    proc = manage("runembedded", env=env, log=tmp_path / "embedded.log")
    try:
        wait_for(lambda: http_get(ports["web"], "/healthz")[0] == 200, 60, "the web role")
        wait_for(lambda: http_get(ports["handler"], "/healthz")[0] == 200, 60, "the handler")
        yield ports, env
    finally:
        proc.terminate()
        code = proc.wait(60)
    assert code == 0, (tmp_path / "embedded.log").read_text()[-3000:]


def stats(port: int) -> dict:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/outcomes/stats/", timeout=5) as response:
        return json.loads(response.read())


@pytest.mark.e2e
def test_simulated_traffic_is_all_stored_counted_and_shown(embedded, page, artifacts_dir):
    ports, env = embedded
    result = subprocess.run(
        [
            sys.executable,
            "manage.py",
            "simulate",
            "--rate",
            "200",
            "--duration",
            "30",
            "--json",
            "--url",
            f"http://127.0.0.1:{ports['handler']}/bid",
        ],
        cwd=REPO,
        env=env,
        check=True,
        capture_output=True,
        text=True,
    )
    summary = json.loads(result.stdout.strip().splitlines()[-1])
    assert summary["sent"] == 6000
    assert summary["accepted"] == 6000
    expected = summary["accepted_impressions"]
    wait_for(lambda: stats(ports["web"])["total_outcomes"] >= expected, 60, f"{expected} outcomes")
    final = stats(ports["web"])
    assert final["total_outcomes"] == expected
    assert final["total_wins"] + final["total_losses"] == expected

    # The dashboard shows the same total (cards come from the websocket snapshot).
    page.goto(f"http://127.0.0.1:{ports['web']}/")
    total = page.locator("#card-total [data-value]")
    total.filter(has_text=f"{expected:,}").or_(total.filter(has_text=str(expected))).wait_for(timeout=15_000)
    page.screenshot(path=str(artifacts_dir / "embedded-dashboard.png"), full_page=True)
