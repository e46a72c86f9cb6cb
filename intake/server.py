"""The handler role: the intake ASGI app on uvicorn (httptools + uvloop), plus the metrics side server.

`manage.py runkafka handler` calls `serve(stop, transport)` after installing its SIGTERM/SIGINT handlers, which
set `stop`; uvicorn's own signal handling is turned off so that there is one owner of the signals.
"""

import asyncio
import contextlib
import logging
import math
import socket
import sys
import threading
from collections.abc import Callable, Iterator, Mapping
from contextlib import AbstractContextManager
from functools import partial
from typing import Any

import uvicorn
from django.conf import settings
from uvicorn.config import STARTUP_FAILURE
from uvicorn.protocols.http.flow_control import service_unavailable
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from intake.app import ASGIApp, create_app, overloaded_app
from intake.local import LocalPublisher
from intake.producer import IntakeProducer, Publisher
from intake.workers import start_workers, stop_workers
from pipeline.sideserver import role_side_server
from pipeline.transports import LocalTransport, Transport

logger = logging.getLogger(__name__)

KEEP_ALIVE_S = 5
DEFAULT_READ_TIMEOUT_S = 10.0
_TIMEOUT_BODY = b'{"error":"request_timeout"}'
# Written by the protocol itself: the app is still waiting for the body when the deadline passes.
REQUEST_TIMEOUT = b"".join(
    [
        b"HTTP/1.1 408 Request Timeout\r\n",
        b"content-type: application/json\r\n",
        b"content-length: %d\r\n" % len(_TIMEOUT_BODY),
        b"connection: close\r\n\r\n",
        _TIMEOUT_BODY,
    ]
)


class ReadTimeoutProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol with a deadline on reading each request, which uvicorn lacks: a
    client that connects and sends nothing, or sends its headers or body a byte at a time
    (slowloris), would otherwise hold its connection for ever.

    The deadline runs from the connection's opening (first request) or from a later request's first
    byte, to the request's last byte. When it passes, a request whose headers are complete is
    answered 408 (the app is still waiting for its body), and the connection is closed. One timer
    per request; idle keep-alive connections remain uvicorn's `timeout_keep_alive`.

    Past `limit_concurrency` (open connections or requests in flight), requests are answered by
    `overloaded`, the handler's 503 with Retry-After, instead of uvicorn's bare one."""

    read_timeout_s = DEFAULT_READ_TIMEOUT_S
    overloaded: ASGIApp = staticmethod(overloaded_app(1))
    _deadline: asyncio.TimerHandle | None = None
    _head_done = False

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm()

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._head_done = False
        self._arm()

    def on_headers_complete(self) -> None:
        self._head_done = True
        super().on_headers_complete()

    def on_message_complete(self) -> None:
        self._disarm()
        super().on_message_complete()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def _arm(self) -> None:
        if self._deadline is None:
            self._deadline = self.loop.call_later(self.read_timeout_s, self._timed_out)

    def _disarm(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None

    def _start_asgi_task(self, cycle: Any, app: Any) -> None:
        # uvicorn picks its own `service_unavailable` past `limit_concurrency`; answer ours instead.
        super()._start_asgi_task(cycle, self.overloaded if app is service_unavailable else app)  # type: ignore[arg-type]

    def _timed_out(self) -> None:
        self._deadline = None
        if self.transport.is_closing():
            return
        if self._head_done and self.cycle is not None and not self.cycle.response_started:
            self.transport.write(REQUEST_TIMEOUT)
        self.transport.close()


def read_timeout_protocol(timeout_s: float, retry_after_s: int = 1) -> type[ReadTimeoutProtocol]:
    """The protocol class uvicorn instantiates per connection, with its read deadline and the
    answer it gives past the concurrency limit."""
    attributes: dict[str, Any] = {
        "read_timeout_s": timeout_s,
        "overloaded": staticmethod(overloaded_app(retry_after_s)),
    }
    return type("ReadTimeoutProtocol", (ReadTimeoutProtocol,), attributes)


class _Server(uvicorn.Server):
    """uvicorn without signal handlers of its own: it exits once `stop` is set (checked on each of
    its 0.1 s ticks), lets in-flight requests finish, and returns.

    Connections are accepted by a thread of ours, not by the event loop: libuv (under uvloop)
    accepts one connection per loop iteration, and an iteration of a busy handler takes
    milliseconds, so a burst of new connections (clients reconnecting after a restart) queued in
    the kernel for seconds before their first request was even read (measured: 512 connections
    at once, first requests up to 7 s). The thread accepts as fast as the kernel hands them over
    and gives each to the loop (`connect_accepted_socket`); everything after that is uvicorn's."""

    def __init__(self, config: uvicorn.Config, stop: threading.Event, *, reuse_port: bool = False) -> None:
        super().__init__(config)
        self._stop = stop
        self.reuse_port = reuse_port  # SO_REUSEPORT: worker processes share the port (intake/workers.py)
        self._listener: socket.socket | None = None
        self._acceptor: threading.Thread | None = None
        self._adopting: set[asyncio.Task[Any]] = set()

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield

    async def on_tick(self, counter: int) -> bool:
        if self._stop.is_set():
            self.should_exit = True
        return await super().on_tick(counter)

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await self.lifespan.startup()
        if self.lifespan.should_exit:
            sys.exit(STARTUP_FAILURE)
        config, loop = self.config, asyncio.get_running_loop()

        def create_protocol() -> asyncio.Protocol:
            return config.http_protocol_class(  # type: ignore[call-arg]
                config=config, server_state=self.server_state, app_state=self.lifespan.state, _loop=loop
            )

        try:
            family = socket.AF_INET6 if ":" in config.host else socket.AF_INET  # "::" listens on IPv6
            listener = socket.create_server(
                (config.host, config.port), family=family, backlog=config.backlog, reuse_port=self.reuse_port
            )
        except OSError as exc:
            logger.error("handler cannot listen on %s:%s: %s", config.host, config.port, exc)
            await self.lifespan.shutdown()
            sys.exit(STARTUP_FAILURE)
        self.servers = []
        self._listener = listener
        self._acceptor = threading.Thread(
            target=self._accept_loop, args=(listener, loop, create_protocol), name="intake-accept", daemon=True
        )
        self._acceptor.start()
        host, port = listener.getsockname()[:2]
        logger.info("handler accepting connections on http://%s:%s", host, port)
        self.started = True

    def _accept_loop(
        self, listener: socket.socket, loop: asyncio.AbstractEventLoop, create_protocol: Callable[[], asyncio.Protocol]
    ) -> None:
        while True:
            try:
                conn, _ = listener.accept()
            except OSError:  # the listener was shut down: the server is stopping
                return
            conn.setblocking(False)
            try:
                loop.call_soon_threadsafe(self._adopt, conn, create_protocol)
            except RuntimeError:  # the loop is closed
                conn.close()
                return

    def _adopt(self, conn: socket.socket, create_protocol: Callable[[], asyncio.Protocol]) -> None:
        if self.should_exit:
            conn.close()
            return
        loop = asyncio.get_running_loop()
        task = loop.create_task(loop.connect_accepted_socket(create_protocol, conn))
        self._adopting.add(task)
        task.add_done_callback(partial(self._adopted, conn))

    def _adopted(self, conn: socket.socket, task: "asyncio.Task[Any]") -> None:
        self._adopting.discard(task)
        if not task.cancelled() and task.exception() is not None:  # e.g. the client already reset it
            logger.debug("connection dropped before it was served: %s", task.exception())
            conn.close()

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        if self._listener is not None:
            with contextlib.suppress(OSError):
                self._listener.shutdown(socket.SHUT_RDWR)  # wakes the accepting thread
            self._listener.close()
            self._listener = None
        if self._acceptor is not None:
            self._acceptor.join(timeout=1.0)
        await super().shutdown(sockets)


def build_server(
    app: ASGIApp, stop: threading.Event, *, host: str, port: int, reuse_port: bool = False
) -> uvicorn.Server:
    """A uvicorn server for `app` that runs (`.run()`, blocking) until `stop` is set."""
    config = uvicorn.Config(
        app,
        host=host,
        port=port,
        loop="uvloop",
        http=read_timeout_protocol(settings.HELIOS_READ_TIMEOUT_S, settings.HELIOS_RETRY_AFTER_S),
        lifespan="on",
        interface="asgi3",
        access_log=False,
        log_config=None,  # keep Django's LOGGING (JSON to stdout)
        log_level="warning",  # the role logs its own start and stop lines
        proxy_headers=False,
        server_header=False,
        limit_concurrency=settings.HELIOS_HANDLER_LIMIT_CONCURRENCY,
        timeout_keep_alive=KEEP_ALIVE_S,
        # In-flight requests wait at most the intake deadline for Kafka; give them that to finish.
        timeout_graceful_shutdown=math.ceil(settings.HELIOS_INTAKE_DEADLINE_S) + 2,
    )
    return _Server(config, stop, reuse_port=reuse_port)


def make_publisher(transport: Transport) -> IntakeProducer | LocalPublisher:
    """Kafka's long-lived producer, or embedded mode's publisher to the in-process broker."""
    if isinstance(transport, LocalTransport):
        return LocalPublisher(transport)
    return IntakeProducer.from_settings().start()


Routes = Callable[[Publisher], AbstractContextManager[Mapping[str, ASGIApp]]]


def serve(
    stop: threading.Event,
    transport: Transport,
    *,
    started: threading.Event | None = None,
    routes: Routes | None = None,
) -> None:
    """Serves `POST /bid` and `GET /healthz` on HELIOS_HANDLER_HOST:HELIOS_HANDLER_PORT, and on
    Kafka the metrics side server on HELIOS_METRICS_HOST:HELIOS_ROLE_PORTS["handler"], until `stop`
    is set; then answers what is in flight, flushes the producer and returns. `routes(publisher)`
    mounts more endpoints on the same publisher for the server's lifetime (rtb/role.py's
    `/openrtb2/bid`). `started` is set once the server is built, just before it starts listening."""
    publisher = make_publisher(transport)
    host, port = settings.HELIOS_HANDLER_HOST, settings.HELIOS_HANDLER_PORT
    extra = settings.HELIOS_HANDLER_WORKERS - 1 if not isinstance(transport, LocalTransport) else 0
    reuse_port = extra > 0 or settings.HELIOS_HANDLER_REUSE_PORT
    workers = start_workers(extra, settings.HELIOS_ROLE_PORTS["handler"]) if extra > 0 else []
    with role_side_server("handler", transport, {"kafka": publisher.check}) as side_port:
        logger.info(
            "handler listening on %s:%s (metrics on :%s), producing to %s; broker %s",
            host,
            port,
            side_port,
            publisher.topic,
            "reachable" if publisher.reachable() else f"unreachable ({publisher.last_error})",
        )
        try:
            with routes(publisher) if routes is not None else contextlib.nullcontext({}) as mounted:
                app = create_app(publisher, routes=mounted)
                server = build_server(app, stop, host=host, port=port, reuse_port=reuse_port)
                if started is not None:
                    started.set()
                server.run()
        finally:
            stop_workers(workers, timeout_s=math.ceil(settings.HELIOS_INTAKE_DEADLINE_S) + 10)
            left = publisher.close()
            logger.info("handler stopped; %d messages left undelivered", left)
