"""A small HTTP side server per role: `/metrics` (Prometheus), `/healthz` (liveness) and `/readyz`
(every dependency reachable). It runs in a daemon thread so a role's own loop stays untouched."""

import contextlib
import logging
import threading
from collections.abc import Iterator, Mapping
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from django.conf import settings
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, generate_latest

from pipeline.readiness import ReadyCheck, readyz, run_checks
from pipeline.transports import LocalTransport, Transport

__all__ = ["ReadyCheck", "SideServer", "role_side_server", "run_checks"]

logger = logging.getLogger(__name__)


class SideServer:
    def __init__(self, host: str, port: int, checks: Mapping[str, ReadyCheck] | None = None) -> None:
        self.checks = dict(checks or {})
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                path = self.path.split("?", 1)[0]
                if path == "/metrics":
                    self._send(200, generate_latest(REGISTRY), CONTENT_TYPE_LATEST)
                elif path == "/healthz":
                    self._send(200, b"ok", "text/plain")
                elif path == "/readyz":
                    self._send(*readyz(server.checks), "application/json")
                else:
                    self._send(404, b"not found", "text/plain")

            def _send(self, status: int, body: bytes, content_type: str) -> None:
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - quiet access log
                pass

        self.httpd = ThreadingHTTPServer((host, port), Handler)
        self.httpd.daemon_threads = True
        self.port = self.httpd.server_address[1]
        self._thread = threading.Thread(target=self.httpd.serve_forever, name=f"sideserver-{port}", daemon=True)

    def start(self) -> "SideServer":
        self._thread.start()
        return self

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@contextlib.contextmanager
def role_side_server(role: str, transport: Transport, checks: Mapping[str, ReadyCheck]) -> Iterator[int | None]:
    """The side server of a role process on HELIOS_ROLE_PORTS[role] while the block runs; yields its
    port. None on the in-process transport: in embedded mode the web role's /readyz and /metrics
    speak for the whole process."""
    if isinstance(transport, LocalTransport):
        yield None
        return
    side = SideServer(settings.HELIOS_METRICS_HOST, settings.HELIOS_ROLE_PORTS[role], checks).start()
    try:
        yield side.port
    finally:
        side.stop()
