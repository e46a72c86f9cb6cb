"""The handler role: the intake ASGI app on uvicorn (httptools + uvloop), plus the metrics side server.

`manage.py runkafka handler` calls `serve(stop)` after installing its SIGTERM/SIGINT handlers, which
set `stop`; uvicorn's own signal handling is turned off so that there is one owner of the signals.
"""

import contextlib
import logging
import math
import threading
from collections.abc import Iterator

import uvicorn
from django.conf import settings

from intake.app import ASGIApp, create_app
from intake.producer import IntakeProducer
from pipeline.sideserver import SideServer

logger = logging.getLogger(__name__)

# Connections + in-flight requests uvicorn accepts before answering 503 itself (no Retry-After).
DEFAULT_LIMIT_CONCURRENCY = 4096
KEEP_ALIVE_S = 5


class _Server(uvicorn.Server):
    """uvicorn without signal handlers of its own: it exits once `stop` is set (checked on each of
    its 0.1 s ticks), lets in-flight requests finish, and returns."""

    def __init__(self, config: uvicorn.Config, stop: threading.Event) -> None:
        super().__init__(config)
        self._stop = stop

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield

    async def on_tick(self, counter: int) -> bool:
        if self._stop.is_set():
            self.should_exit = True
        return await super().on_tick(counter)


def build_server(app: ASGIApp, stop: threading.Event, *, host: str, port: int) -> uvicorn.Server:
    """A uvicorn server for `app` that runs (`.run()`, blocking) until `stop` is set."""
    config = uvicorn.Config(
        app,
        host=host,
        port=port,
        loop="uvloop",
        http="httptools",
        lifespan="on",
        interface="asgi3",
        access_log=False,
        log_config=None,  # keep Django's LOGGING (JSON to stdout)
        log_level="warning",  # the role logs its own start and stop lines
        proxy_headers=False,
        server_header=False,
        limit_concurrency=getattr(settings, "HELIOS_HANDLER_LIMIT_CONCURRENCY", DEFAULT_LIMIT_CONCURRENCY),
        timeout_keep_alive=KEEP_ALIVE_S,
        # In-flight requests wait at most the intake deadline for Kafka; give them that to finish.
        timeout_graceful_shutdown=math.ceil(settings.HELIOS_INTAKE_DEADLINE_S) + 2,
    )
    return _Server(config, stop)


def serve(stop: threading.Event) -> None:
    """Serves `POST /bid` and `GET /healthz` on HELIOS_HANDLER_HOST:HELIOS_HANDLER_PORT and the
    metrics side server on HELIOS_METRICS_HOST:HELIOS_ROLE_PORTS["handler"] until `stop` is set;
    then answers what is in flight, flushes the producer and returns."""
    producer = IntakeProducer.from_settings().start()
    side = SideServer(settings.HELIOS_METRICS_HOST, settings.HELIOS_ROLE_PORTS["handler"], {"kafka": producer.check})
    side.start()
    host, port = settings.HELIOS_HANDLER_HOST, settings.HELIOS_HANDLER_PORT
    logger.info(
        "handler listening on %s:%s (metrics on :%s), producing to %s; broker %s",
        host,
        port,
        side.port,
        producer.topic,
        "reachable" if producer.reachable() else f"unreachable ({producer.last_error})",
    )
    try:
        build_server(create_app(producer), stop, host=host, port=port).run()
    finally:
        side.stop()
        left = producer.close()
        logger.info("handler stopped; %d messages left undelivered", left)
