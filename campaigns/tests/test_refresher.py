"""The refresher: a change made through the services reaches a running index; failures keep the last one."""

import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest

from campaigns import services
from campaigns.changes import reset_signal_client
from campaigns.index import CampaignIndex, build_index
from campaigns.models import Campaign, Status
from campaigns.refresher import IndexRefresher, campaign_index_refresher
from campaigns.seed import seed_campaigns

BOUND_S = 10.0  # generous: the contract is 2 s; the measured time is printed (pytest -s)


def wait_for(condition: Callable[[], bool], what: str) -> float:
    started = time.monotonic()
    while not condition():
        if time.monotonic() - started > BOUND_S:
            pytest.fail(f"{what} not seen within {BOUND_S} s")
        time.sleep(0.01)
    return time.monotonic() - started


class Fakes:
    def __init__(self) -> None:
        self.version: int | None = 1
        self.loads = 0
        self.now = 0.0
        self.fail_load = False
        self.fail_version = False

    def read_version(self) -> int | None:
        if self.fail_version:
            raise ConnectionError("redis down")
        return self.version

    def load(self, version: int | None) -> CampaignIndex:
        if self.fail_load:
            raise ConnectionError("database down")
        self.loads += 1
        return build_index([], version=version, loaded_at=datetime(2026, 12, 4, tzinfo=UTC))


@pytest.fixture
def fakes() -> Fakes:
    return Fakes()


@pytest.fixture
def refresher(fakes: Fakes) -> IndexRefresher:
    return IndexRefresher(
        load=fakes.load, version=fakes.read_version, poll_s=0.01, reload_s=30, clock=lambda: fakes.now
    )


def test_reloads_when_the_counter_moves_and_periodically(fakes: Fakes, refresher: IndexRefresher) -> None:
    assert refresher.refresh() and fakes.loads == 1
    assert not refresher.refresh() and fakes.loads == 1  # nothing changed
    fakes.version = 2
    assert refresher.refresh() and refresher.index is not None and refresher.index.version == 2
    fakes.now = 31.0
    assert refresher.refresh() and fakes.loads == 3  # the safety net, counter unchanged
    fakes.version = None  # Redis lost the key: a change too
    assert refresher.refresh() and fakes.loads == 4


def test_failures_keep_the_last_snapshot(fakes: Fakes, refresher: IndexRefresher, caplog: Any) -> None:
    from prometheus_client import REGISTRY

    def errors() -> float:
        return REGISTRY.get_sample_value("helios_campaign_index_reloads_total", {"result": "error"}) or 0.0

    refresher.refresh()
    errors_before = errors()
    kept = refresher.index
    fakes.version, fakes.fail_load = 2, True
    assert not refresher.refresh() and not refresher.refresh()
    assert refresher.index is kept
    assert sum("reload failed" in r.getMessage() for r in caplog.records) == 1  # once per failure streak
    # but counted every time (at least: the counter is process-wide, and a refresher another test left
    # running may count a failure of its own meanwhile)
    assert errors() >= errors_before + 2
    fakes.fail_load = False
    assert refresher.refresh() and refresher.index is not None and refresher.index.version == 2
    fakes.fail_version = True
    assert not refresher.refresh()  # signal unreadable: wait for the periodic reload
    fakes.now = 31.0
    assert refresher.refresh()


def _pause_reaches_running_refresher(settings: Any) -> float:
    seed_campaigns(demo=True)
    refresher = campaign_index_refresher().start()
    try:
        assert refresher.index is not None
        volt = Campaign.objects.get(key="demo-volt-ev-launch")
        assert volt.id in refresher.index.by_id
        services.campaign_set_status(campaigns=[volt], status=Status.PAUSED)
        elapsed = wait_for(lambda: volt.id not in refresher.index.by_id, "the pause")  # type: ignore[union-attr]
        services.campaign_update(campaign=volt, data={"status": "active", "max_cpm_micros": 2_000_000})
        wait_for(lambda: volt.id in refresher.index.by_id, "the re-activation")  # type: ignore[union-attr]
        assert refresher.index.by_id[volt.id].max_cpm_micros == 2_000_000
        return elapsed
    finally:
        refresher.stop()


@pytest.mark.django_db(transaction=True)
def test_a_pause_reaches_a_running_refresher_over_redis(settings: Any, signal_key: str) -> None:
    settings.HELIOS_CAMPAIGN_RELOAD_S = 3600  # only the signal can explain a fast update
    elapsed = _pause_reaches_running_refresher(settings)
    print(f"pause seen by the refresher after {elapsed * 1000:.0f} ms (Redis signal)")


@pytest.mark.django_db(transaction=True)
def test_a_pause_reaches_a_running_refresher_embedded(settings: Any) -> None:
    settings.HELIOS_CAMPAIGN_SIGNAL = "fake"
    settings.HELIOS_CAMPAIGN_RELOAD_S = 3600
    reset_signal_client()
    elapsed = _pause_reaches_running_refresher(settings)
    print(f"pause seen by the refresher after {elapsed * 1000:.0f} ms (fakeredis signal)")


@pytest.mark.django_db(transaction=True)
def test_with_redis_down_writes_succeed_and_the_periodic_reload_catches_up(settings: Any, caplog: Any) -> None:
    from conftest import free_port

    settings.REDIS_URL = f"redis://127.0.0.1:{free_port()}/0"  # nothing listens there
    settings.HELIOS_CAMPAIGN_POLL_S = 0.05
    settings.HELIOS_CAMPAIGN_RELOAD_S = 0.5
    reset_signal_client()
    seed_campaigns(demo=False)
    refresher = campaign_index_refresher().start()
    try:
        house = Campaign.objects.get(key="house")
        assert house.id in refresher.index.by_id  # type: ignore[union-attr]
        services.campaign_set_status(campaigns=[house], status=Status.PAUSED)  # does not raise
        wait_for(lambda: house.id not in refresher.index.by_id, "the pause")  # type: ignore[union-attr]
    finally:
        refresher.stop()
    assert any("change signal failed" in r.getMessage() for r in caplog.records)


WATCHER = """
import sys, time
import django
django.setup()
from campaigns.refresher import campaign_index_refresher
campaign_id = int(sys.argv[1])
refresher = campaign_index_refresher().start()
assert campaign_id in refresher.index.by_id, "not in the index at start"
print("ready", flush=True)
started = time.monotonic()
while campaign_id in refresher.index.by_id:
    if time.monotonic() - started > 60:
        sys.exit("the pause never arrived")
    time.sleep(0.005)
print(f"seen {time.monotonic() - started:.3f}", flush=True)
"""


@pytest.mark.services
@pytest.mark.django_db(transaction=True)
def test_a_pause_reaches_two_other_processes(settings: Any, signal_key: str) -> None:
    """Two separate processes (as two handlers would be) drop a campaign paused through the services."""
    import subprocess
    import sys

    from conftest import REPO, service_env

    db = settings.DATABASES["default"]
    assert db["ENGINE"] == "django.db.backends.postgresql", "needs the real PostgreSQL (DATABASE_URL)"
    url = f"postgresql://{db['USER']}:{db['PASSWORD']}@{db['HOST']}:{db['PORT']}/{db['NAME']}"  # the test database
    seed_campaigns(demo=True)
    volt = Campaign.objects.get(key="demo-volt-ev-launch")
    env = service_env(
        DATABASE_URL=url,
        DJANGO_SETTINGS_MODULE="helios_site.settings_dev",
        HELIOS_CAMPAIGN_VERSION_KEY=signal_key,
        HELIOS_CAMPAIGN_RELOAD_S="3600",  # only the signal can explain a fast update
    )
    watchers = [
        subprocess.Popen(
            [sys.executable, "-c", WATCHER, str(volt.id)], cwd=REPO, env=env, stdout=subprocess.PIPE, text=True
        )
        for _ in range(2)
    ]
    try:
        for watcher in watchers:
            assert watcher.stdout is not None and watcher.stdout.readline().strip() == "ready"
        services.campaign_set_status(campaigns=[volt], status=Status.PAUSED)
        for watcher in watchers:
            assert watcher.wait(timeout=BOUND_S) == 0
            assert watcher.stdout is not None
            line = watcher.stdout.readline().strip()
            assert line.startswith("seen ")
            print(f"pause seen by another process after {float(line.split()[1]) * 1000:.0f} ms")
    finally:
        for watcher in watchers:
            watcher.kill()
            watcher.wait()
