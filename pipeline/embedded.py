"""Embedded mode: every registered role in one process, on the in-process transport.

The same roles as the distributed mode (pipeline/roles.py), other wiring: the consumer roles'
strategy factories run on arroyo's in-process broker (`LocalTransport`) instead of Kafka, the
server roles (profile service, handler) are given that transport too, the profile store is an
in-process fakeredis and the channel layer is in memory. Each role runs in a thread of its own;
the web server (helios_site's `runembedded`) owns the main thread and the signals.
"""

import asyncio
import logging
import threading
import time
from collections.abc import Callable
from typing import Any

from channels.layers import InMemoryChannelLayer
from django.conf import settings

from pipeline.roles import ROLES
from pipeline.runner import BuiltRole, build_role
from pipeline.transports import LocalTransport

logger = logging.getLogger(__name__)

START_TIMEOUT_S = 60.0
JOIN_TIMEOUT_S = 30.0


class CrossThreadInMemoryChannelLayer(InMemoryChannelLayer):
    """Channels' in-memory layer, usable from role threads.

    Its queues are asyncio queues of the event loop that receives (daphne's); a send from another
    thread's loop (the outcomes role's snapshot publisher) is handed over to that loop, since
    asyncio queues are not thread-safe.
    """

    home: asyncio.AbstractEventLoop | None = None

    async def receive(self, channel: str) -> Any:
        self.home = asyncio.get_running_loop()
        return await super().receive(channel)

    async def send(self, channel: str, message: dict[str, Any]) -> None:
        home = self.home
        if home is not None and home is not asyncio.get_running_loop() and home.is_running():
            send = super().send
            await asyncio.wrap_future(asyncio.run_coroutine_threadsafe(send(channel, message), home))
        else:
            await super().send(channel, message)


def configure() -> None:
    """Points the settings at in-process parts; call before anything uses them."""
    settings.HELIOS_TRANSPORT = "local"
    settings.HELIOS_PROFILE_STORE = "fake"
    settings.HELIOS_CAMPAIGN_SIGNAL = "fake"  # the campaign change counter in an in-process fakeredis
    settings.HELIOS_LEDGER_STORE = "fake"  # the budget ledger too (its Lua scripts run on lupa)
    settings.CHANNEL_LAYERS = {"default": {"BACKEND": f"{__name__}.CrossThreadInMemoryChannelLayer"}}


def _thread(name: str, target: Callable[[], object]) -> threading.Thread:
    thread = threading.Thread(target=target, name=f"role-{name}", daemon=True)
    thread.start()
    return thread


class _Running:
    """One started role: how to ask it to stop, and its thread."""

    def __init__(self, name: str, stop: Callable[[], None], thread: threading.Thread) -> None:
        self.name, self.stop, self.thread = name, stop, thread


class EmbeddedRoles:
    """Every role of the registry on one `LocalTransport`, started in registry order (a server role
    is waited for until it serves, so the bidder finds the profile service) and stopped in reverse."""

    def __init__(self) -> None:
        self.transport = LocalTransport()
        self.running: list[_Running] = []

    def start(self) -> "EmbeddedRoles":
        for name, spec in ROLES.items():
            if spec.topic is None:
                self._start_server(name)
            else:
                role: BuiltRole = build_role(name, self.transport)
                self.running.append(_Running(name, role.shutdown, _thread(name, role.run)))
        logger.info("embedded roles started: %s", ", ".join(ROLES))
        return self

    def _start_server(self, name: str) -> None:
        stop, started = threading.Event(), threading.Event()
        serve = ROLES[name].load()
        thread = _thread(name, lambda: serve(stop, self.transport, started=started))
        self.running.append(_Running(name, stop.set, thread))
        deadline = time.monotonic() + START_TIMEOUT_S
        while not started.wait(0.05):
            if not thread.is_alive():
                raise RuntimeError(f"the {name} role stopped while starting (see the log above)")
            if time.monotonic() > deadline:
                raise RuntimeError(f"the {name} role did not start in {START_TIMEOUT_S:.0f} s")

    def stop(self) -> None:
        """Stops every role, the last started first; each finishes what it has in flight."""
        for role in reversed(self.running):
            role.stop()
            role.thread.join(JOIN_TIMEOUT_S)
        self.running.clear()
        logger.info("embedded roles stopped")
