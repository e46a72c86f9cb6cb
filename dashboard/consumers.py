"""The dashboard's websocket (SPEC §8): stats snapshots, pushed; the page never polls for them.

On connect: join the group the outcomes role publishes to (`dashboard.snapshots.DASHBOARD_GROUP`),
then send one snapshot read from the database so the page has figures at once. After that, every
`dashboard.snapshot` group event is forwarded as it is. The origin is checked in asgi.py
(AllowedHostsOriginValidator); anonymous users are refused unless HELIOS_PUBLIC_API (SPEC §11).
"""

import logging
import threading
import time
from typing import Any

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer
from django.conf import settings
from django.db import close_old_connections

from dashboard.snapshots import DASHBOARD_GROUP, snapshot_from_database

logger = logging.getLogger(__name__)

# Close code for a refused handshake (before accept the server answers HTTP 403 instead).
CLOSE_UNAUTHORIZED = 4401
# Pages connecting within this long of each other share one database read: the initial snapshot
# scans the last 5 minutes of outcomes (~0.3 s at 1,000 bids/s), and a server restart reconnects
# every open page at once.
INITIAL_SNAPSHOT_REUSE_S = 1.0

_initial_lock = threading.Lock()
_initial: tuple[float, dict[str, Any]] | None = None


def initial_snapshot() -> dict[str, Any]:
    """The snapshot sent on connect: read from the database, or the one read less than
    INITIAL_SNAPSHOT_REUSE_S ago. Blocking."""
    global _initial
    with _initial_lock:
        now = time.monotonic()
        if _initial is None or now - _initial[0] >= INITIAL_SNAPSHOT_REUSE_S:
            # This runs in a worker thread: drop its connection when it is broken or past
            # CONN_MAX_AGE, here, where that thread's connection is seen.
            close_old_connections()
            try:
                _initial = (now, snapshot_from_database())
            finally:
                close_old_connections()
        return _initial[1]


def initial_snapshot_forget() -> None:
    global _initial
    with _initial_lock:
        _initial = None


class DashboardConsumer(AsyncJsonWebsocketConsumer):
    groups: list[str] = []  # joined in connect, after the authentication check

    async def connect(self) -> None:
        user = self.scope.get("user")
        if not settings.HELIOS_PUBLIC_API and not (user is not None and user.is_authenticated):
            await self.close(code=CLOSE_UNAUTHORIZED)
            return
        # Join before reading the database, so nothing published meanwhile is missed: group
        # events wait until connect returns, and so reach the page after the initial snapshot.
        await self.channel_layer.group_add(DASHBOARD_GROUP, self.channel_name)
        await self.accept()
        # Not thread-sensitive: the read must not hold up the one thread Django's sync views share.
        snapshot = await database_sync_to_async(initial_snapshot, thread_sensitive=False)()
        await self.send_json(snapshot)

    async def disconnect(self, code: int) -> None:
        await self.channel_layer.group_discard(DASHBOARD_GROUP, self.channel_name)

    async def receive_json(self, content: Any, **kwargs: Any) -> None:
        """The page sends nothing that needs an answer; anything it sends is ignored."""

    async def dashboard_snapshot(self, event: dict[str, Any]) -> None:
        await self.send_json(event)
