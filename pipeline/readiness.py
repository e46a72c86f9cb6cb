"""The readiness checks of every role (`/readyz`): is the database, Redis, Kafka reachable?

One module for the web role (helios_site/urls.py), the consumer roles' side servers and the handler.
A check raises, or returns False, when its dependency is unreachable.
"""

import json
import threading
from collections.abc import Callable, Mapping
from typing import Any

from django.conf import settings

ReadyCheck = Callable[[], object]


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


def readyz(checks: Mapping[str, ReadyCheck]) -> tuple[int, bytes]:
    """The `/readyz` answer: 200 and `{"status": "ready"}`, or 503 and the failed checks."""
    failed = run_checks(checks)
    body = {"status": "unready", "failed": failed} if failed else {"status": "ready"}
    return (503 if failed else 200), json.dumps(body).encode()


def database(*, close: bool = True) -> bool:
    """A `SELECT 1`. With `close` (the side servers, which answer each request in a new thread) the
    calling thread's connection is closed afterwards, so do not call it inside a transaction."""
    from django.db import connection

    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            return cursor.fetchone() == (1,)
    finally:
        if close:
            connection.close()


def redis() -> bool:
    """A PING to REDIS_URL (1 s timeouts)."""
    import redis as redis_client

    return bool(redis_client.Redis.from_url(settings.REDIS_URL, socket_connect_timeout=1, socket_timeout=1).ping())


_probe_clients: dict[str, Any] = {}
_probe_lock = threading.Lock()


def kafka() -> bool:
    """A metadata request (raises when no broker answers in 2 s). One long-lived client per client
    configuration: a client per probe meant librdkafka threads and sockets created and torn down
    every few seconds, and many at once while a broker is down."""
    from confluent_kafka.admin import AdminClient

    from pipeline.transports import client_config

    config = client_config(**{"socket.connection.setup.timeout.ms": 1000})
    key = repr(sorted(config.items()))
    with _probe_lock:
        admin = _probe_clients.get(key)
        if admin is None:
            admin = AdminClient(config)
            _probe_clients[key] = admin
    return bool(admin.list_topics(timeout=2).brokers)
