"""A small HTTP side server per role: `/metrics` (Prometheus), `/healthz` (liveness) and `/readyz`
(every dependency reachable). It runs in a daemon thread so a role's own loop stays untouched."""

import json
import logging
import threading
from collections.abc import Callable, Mapping
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, generate_latest

logger = logging.getLogger(__name__)

ReadyCheck = Callable[[], object]  # raises (or returns False) when the dependency is unreachable


def run_checks(checks: Mapping[str, ReadyCheck]) -> dict[str, str]:
    """Runs each readiness check; returns {name: error} for those that failed."""
    failed: dict[str, str] = {}
    for name, check in checks.items():
        try:
            if check() is False:
                failed[name] = "unavailable"
        except Exception as exc:  # noqa: BLE001 - any failure means "not ready"
            failed[name] = f"{type(exc).__name__}: {exc}"[:300]
    return failed


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
                    failed = run_checks(server.checks)
                    body = {"status": "unready", "failed": failed} if failed else {"status": "ready"}
                    self._send(503 if failed else 200, json.dumps(body).encode(), "application/json")
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
