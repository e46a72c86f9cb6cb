"""The campaign change signal: a counter in Redis that every campaign write bumps.

Running bid paths poll it (`index_version`) and reload their index when it moves. A counter, not
pub/sub: a process that was disconnected when a change happened still sees the new value at its
next poll, and a Redis that lost the key (restart) reads as a change too. Embedded mode uses an
in-process fakeredis (`HELIOS_CAMPAIGN_SIGNAL=fake`) with no other difference.
"""

import logging
import threading
from typing import Any

import redis
from django.conf import settings

logger = logging.getLogger(__name__)

SIGNAL_TIMEOUT_S = 0.5  # a write's commit never waits long on Redis: the periodic reload catches up

_lock = threading.Lock()
_client: Any = None
_fake_server: Any = None


def signal_client() -> redis.Redis:
    """One client per process (redis-py clients are thread-safe and pool their connections)."""
    global _client, _fake_server
    with _lock:
        if _client is None:
            if settings.HELIOS_CAMPAIGN_SIGNAL == "fake":
                import fakeredis

                _fake_server = _fake_server or fakeredis.FakeServer()
                _client = fakeredis.FakeRedis(server=_fake_server)
            else:
                _client = redis.Redis.from_url(
                    settings.REDIS_URL, socket_timeout=SIGNAL_TIMEOUT_S, socket_connect_timeout=SIGNAL_TIMEOUT_S
                )
        return _client


def reset_signal_client() -> None:
    """Forget the cached client (tests that change REDIS_URL or the signal kind)."""
    global _client
    with _lock:
        _client = None


def index_version() -> int | None:
    """The current change counter (None: never bumped, or Redis lost it). Raises redis.RedisError."""
    raw = signal_client().get(settings.HELIOS_CAMPAIGN_VERSION_KEY)
    return None if raw is None else int(raw)


def index_bump() -> int | None:
    """Bumps the counter; a Redis failure is logged, not raised (the write is already committed)."""
    try:
        return int(signal_client().incr(settings.HELIOS_CAMPAIGN_VERSION_KEY))
    except redis.RedisError as exc:
        logger.warning(
            "campaign change signal failed (running indexes reload within %g s): %s",
            settings.HELIOS_CAMPAIGN_RELOAD_S,
            exc,
        )
        return None
