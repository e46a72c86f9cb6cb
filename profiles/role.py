"""The profiles role: the gRPC profile service on the profile store, with its side server on Kafka."""

import threading

from django.conf import settings

from pipeline.sideserver import role_side_server
from pipeline.transports import LocalTransport, Transport
from profiles import grpc_server
from profiles.demo import DEMO_PROFILES
from profiles.services import profile_save_many
from profiles.store import profile_store


def serve(
    stop: threading.Event,
    transport: Transport,
    *,
    workers: int = grpc_server.DEFAULT_WORKERS,
    grace_s: float = grpc_server.STOP_GRACE_S,
    started: threading.Event | None = None,
) -> None:
    """Serves on HELIOS_PROFILES_HOST:HELIOS_PROFILES_PORT until `stop` is set.

    In embedded mode (the in-process transport) the store is the process's own fakeredis, which
    nothing else fills: the demo profiles are saved into it first, and the process's bidder is
    pointed at the bound port. `started` is set once the service answers."""
    store = profile_store()
    embedded = isinstance(transport, LocalTransport)
    if embedded:
        profile_save_many(profiles=DEMO_PROFILES, store=store)

    def bound(port: int) -> None:
        if embedded:
            settings.HELIOS_PROFILES_TARGET = f"127.0.0.1:{port}"
        if started is not None:
            started.set()

    with role_side_server("profiles", transport, {"redis": store.ping}):
        grpc_server.serve(
            stop,
            host=settings.HELIOS_PROFILES_HOST,
            port=settings.HELIOS_PROFILES_PORT,
            store=store,
            grace_s=grace_s,
            max_workers=workers,
            on_bound=bound,
        )
