"""The dashboard's websocket (dashboard/consumers.py) with Channels' WebsocketCommunicator."""

import uuid
from datetime import UTC, datetime
from typing import Any

import pytest
from asgiref.sync import async_to_sync, sync_to_async
from channels.layers import get_channel_layer
from channels.testing import WebsocketCommunicator
from django.conf import settings as django_settings
from django.contrib.auth.models import AnonymousUser, User
from django.db import connections

from dashboard.consumers import DashboardConsumer, initial_snapshot, initial_snapshot_forget
from dashboard.snapshots import DASHBOARD_GROUP, SNAPSHOT_EVENT, channel_layer_sender
from outcomes.services import outcome_record_batch
from outcomes.tests.factories import outcome_messages, outcome_rows

pytestmark = pytest.mark.django_db(transaction=True)

TIMEOUT_S = 5
DASHBOARD_REDIS_DB = 13


@pytest.fixture(autouse=True)
def memory_layer(settings, monkeypatch):
    settings.CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}
    settings.HELIOS_PUBLIC_API = True
    initial_snapshot_forget()
    # The consumer reads in worker threads (not thread-sensitive): no persistent connections
    # there, or they would outlive the test and keep the test database from being dropped.
    monkeypatch.setitem(connections.settings["default"], "CONN_MAX_AGE", 0)


def communicator(user: Any = None, app: Any = None, headers: list | None = None) -> WebsocketCommunicator:
    comm = WebsocketCommunicator(app or DashboardConsumer.as_asgi(), "/ws/dashboard/", headers=headers)
    if app is None:
        comm.scope["user"] = user if user is not None else AnonymousUser()
    return comm


def live_event(**extra: Any) -> dict[str, Any]:
    return {"type": SNAPSHOT_EVENT, "kind": "live", "source": "test", "at": 1.0, "window": {"count": 3}, **extra}


def test_connect_sends_a_snapshot_read_from_the_database():
    outcome_record_batch(rows=outcome_rows(outcome_messages(3, received=datetime.now(UTC))))

    async def scenario() -> dict:
        comm = communicator()
        connected, _ = await comm.connect(timeout=TIMEOUT_S)
        assert connected
        snapshot = await comm.receive_json_from(timeout=TIMEOUT_S)
        await comm.disconnect()
        return snapshot

    snapshot = async_to_sync(scenario)()
    assert snapshot["type"] == SNAPSHOT_EVENT
    assert snapshot["kind"] == "initial"
    assert snapshot["totals"]["total_outcomes"] == 3
    assert len(snapshot["recent"]) == 3
    assert sum(b["count"] for b in snapshot["series"]) == 3


def test_a_group_event_reaches_the_client_as_it_is():
    async def scenario() -> dict:
        comm = communicator()
        assert (await comm.connect(timeout=TIMEOUT_S))[0]
        await comm.receive_json_from(timeout=TIMEOUT_S)  # the initial snapshot
        await get_channel_layer().group_send(DASHBOARD_GROUP, live_event())
        event = await comm.receive_json_from(timeout=TIMEOUT_S)
        await comm.disconnect()
        return event

    assert async_to_sync(scenario)() == live_event()


def test_disconnect_leaves_the_group():
    async def scenario() -> tuple[int, int]:
        layer = get_channel_layer()
        comm = communicator()
        assert (await comm.connect(timeout=TIMEOUT_S))[0]
        await comm.receive_json_from(timeout=TIMEOUT_S)
        members_connected = len(layer.groups.get(DASHBOARD_GROUP, {}))
        await comm.disconnect()
        members_after = len(layer.groups.get(DASHBOARD_GROUP, {}))
        return members_connected, members_after

    assert async_to_sync(scenario)() == (1, 0)


def test_anonymous_users_are_refused_when_the_api_is_not_public(settings):
    settings.HELIOS_PUBLIC_API = False

    async def scenario() -> bool:
        comm = communicator(AnonymousUser())
        connected, _ = await comm.connect(timeout=TIMEOUT_S)
        layer = get_channel_layer()
        assert not layer.groups.get(DASHBOARD_GROUP)
        await comm.disconnect()
        return connected

    assert async_to_sync(scenario)() is False


def test_signed_in_users_are_accepted_when_the_api_is_not_public(settings):
    settings.HELIOS_PUBLIC_API = False
    user = User.objects.create_user("analyst", password="not-used-here")

    async def scenario() -> dict:
        comm = communicator(user)
        assert (await comm.connect(timeout=TIMEOUT_S))[0]
        snapshot = await comm.receive_json_from(timeout=TIMEOUT_S)
        await comm.disconnect()
        return snapshot

    assert async_to_sync(scenario)()["kind"] == "initial"


def test_the_project_routes_the_websocket_and_checks_its_origin():
    from helios_site.asgi import application

    async def scenario(origin: bytes) -> bool:
        comm = communicator(app=application, headers=[(b"origin", origin), (b"host", b"127.0.0.1:8000")])
        connected, _ = await comm.connect(timeout=TIMEOUT_S)
        if connected:
            await comm.receive_json_from(timeout=TIMEOUT_S)
        await comm.disconnect()
        return connected

    assert async_to_sync(scenario)(b"http://127.0.0.1:8000") is True
    assert async_to_sync(scenario)(b"http://evil.example") is False


@pytest.mark.services
def test_a_published_snapshot_crosses_the_redis_channel_layer(settings):
    """What the outcomes role does in the distributed mode: the publisher's sender puts a real
    snapshot on the Redis layer (msgpack) and the consumer forwards it."""
    base = django_settings.REDIS_URL.rsplit("/", 1)[0]
    settings.CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.core.RedisChannelLayer",
            "CONFIG": {"hosts": [f"{base}/{DASHBOARD_REDIS_DB}"], "prefix": f"test-{uuid.uuid4().hex[:8]}"},
        }
    }
    snapshot = live_event(
        totals={"total_outcomes": 5, "win_rate": 60.0, "total_revenue": 2.55},
        rolling={"per_second": 1.0, "latency_p50_s": None},
        recent=[{"bid_id": "req-1", "win_status": True, "win_price": 0.85}],
    )

    async def scenario() -> dict:
        comm = communicator()
        assert (await comm.connect(timeout=TIMEOUT_S))[0]
        await comm.receive_json_from(timeout=TIMEOUT_S)
        await sync_to_async(channel_layer_sender())(snapshot)
        event = await comm.receive_json_from(timeout=TIMEOUT_S)
        await comm.disconnect()
        return event

    assert async_to_sync(scenario)() == snapshot


def test_pages_connecting_at_once_share_one_database_read(monkeypatch):
    reads = []

    def read() -> dict:
        reads.append(1)
        return {"kind": "initial"}

    monkeypatch.setattr("dashboard.consumers.snapshot_from_database", read)
    assert [initial_snapshot() for _ in range(5)] == [{"kind": "initial"}] * 5
    assert len(reads) == 1
    initial_snapshot_forget()
    initial_snapshot()
    assert len(reads) == 2
