"""Embedded mode: every role in one process with no external services.

The same role code as the distributed mode, other wiring: the roles' strategy factories run on
arroyo's in-process broker (`LocalTransport`) instead of Kafka, the profile service serves an
in-process fakeredis, the channel layer is in memory, and the database is whatever DATABASE_URL
says (SQLite by default). daphne serves the web role in the main thread (it owns the signals);
the handler's uvicorn, the profile gRPC server and the consumer roles run in threads.
"""

import asyncio
import logging
import threading
from collections.abc import Callable
from typing import Any

from channels.layers import InMemoryChannelLayer
from django.conf import settings

logger = logging.getLogger(__name__)

CONSUMER_ROLES = ("bidder", "auction", "outcomes")


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
    settings.CHANNEL_LAYERS = {"default": {"BACKEND": "helios_site.embedded.CrossThreadInMemoryChannelLayer"}}


def _thread(name: str, target: Callable[[], object]) -> threading.Thread:
    thread = threading.Thread(target=target, name=name, daemon=True)
    thread.start()
    return thread


def run(*, web_host: str, web_port: int, announce: Callable[[str], None] = print) -> None:
    """Runs Helios in this process until SIGINT/SIGTERM; then stops every role cleanly."""
    from daphne.endpoints import build_endpoint_description_strings
    from daphne.server import Server

    from intake.app import create_app
    from intake.local import LocalPublisher
    from intake.server import build_server
    from pipeline.runner import build_role
    from pipeline.transports import LocalTransport
    from profiles.demo import DEMO_PROFILES
    from profiles.grpc_server import start_server, stop_server
    from profiles.services import profile_save_many
    from profiles.store import profile_store

    configure()
    transport = LocalTransport()

    store = profile_store()
    profile_save_many(profiles=DEMO_PROFILES, store=store)
    grpc_server, grpc_port = start_server(
        host=settings.HELIOS_PROFILES_HOST, port=settings.HELIOS_PROFILES_PORT, store=store
    )
    settings.HELIOS_PROFILES_TARGET = f"127.0.0.1:{grpc_port}"

    roles = [build_role(name, transport) for name in CONSUMER_ROLES]
    role_threads = [_thread(f"role-{role.name}", role.run) for role in roles]

    handler_stop = threading.Event()
    handler = build_server(
        create_app(LocalPublisher(transport)),
        handler_stop,
        host=settings.HELIOS_HANDLER_HOST,
        port=settings.HELIOS_HANDLER_PORT,
    )
    handler_thread = _thread("role-handler", handler.run)

    from helios_site.asgi import application

    def ready() -> None:
        base = f"http://{web_host}:{web_port}"
        announce(
            "Helios is running (embedded mode: one process, no external services).\n"
            f"  dashboard  {base}/\n"
            f"  REST API   {base}/api/outcomes/   (docs {base}/api/docs/)\n"
            f"  admin      {base}/admin/   (a login: `make admin` in another terminal)\n"
            f"  bids       POST http://{settings.HELIOS_HANDLER_HOST}:{settings.HELIOS_HANDLER_PORT}/bid\n"
            f"  profiles   gRPC 127.0.0.1:{grpc_port}\n"
            "Press Ctrl-C to stop."
        )

    logger.info("embedded mode started")
    try:
        Server(
            application=application,
            endpoints=build_endpoint_description_strings(host=web_host, port=web_port),
            signal_handlers=True,
            ready_callable=ready,
            verbosity=0,
        ).run()
    finally:
        handler_stop.set()
        handler_thread.join(30)
        for role in roles:
            role.shutdown()
        for thread in role_threads:
            thread.join(30)
        stop_server(grpc_server)
        logger.info("embedded mode stopped")
