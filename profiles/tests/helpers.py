"""Helpers shared by the profiles tests (the project keeps one root conftest.py)."""

import contextlib
import threading
from collections.abc import Iterator, Sequence
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import fakeredis
import grpc
import pytest
import redis
from django.conf import settings

from profiles.grpc_server import start_server, stop_server
from profiles.store import ProfileStore
from profiles.types import Profile

# Integration tests use this Redis database of the shared local Redis, so they never touch
# the profiles other tests or a running demo keep in database 0.
TEST_REDIS_DB = 15


def new_fake_store() -> ProfileStore:
    """A store on a fresh, private in-process fakeredis server."""
    return ProfileStore(fakeredis.FakeRedis(server=fakeredis.FakeServer()))


def redis_test_url() -> str:
    parts = urlsplit(settings.REDIS_URL)
    return urlunsplit((parts.scheme, parts.netloc, f"/{TEST_REDIS_DB}", "", ""))


def real_store() -> ProfileStore:
    """A store on the real local Redis (database TEST_REDIS_DB); fails the test if it is down."""
    url = redis_test_url()
    store = ProfileStore.from_url(url)
    try:
        store.ping()
    except redis.exceptions.RedisError as exc:
        pytest.fail(f"Redis is not reachable at {url}: {exc} (run `make services-up`)")
    return store


@contextlib.contextmanager
def running_server(store: ProfileStore, **kwargs: Any) -> Iterator[tuple[grpc.Server, str]]:
    """A profile server on a free local port for the block; yields (server, target)."""
    server, port = start_server(host="127.0.0.1", port=0, store=store, **kwargs)
    try:
        yield server, f"127.0.0.1:{port}"
    finally:
        stop_server(server, grace_s=0)


class SlowStore(ProfileStore):
    """A fake store whose reads take `delay_s` (to miss deadlines on purpose)."""

    def __init__(self, delay_s: float) -> None:
        super().__init__(fakeredis.FakeRedis(server=fakeredis.FakeServer()))
        self.delay_s = delay_s
        self.release = threading.Event()

    def get_many(self, user_ids: Sequence[str]) -> dict[str, Profile]:
        self.release.wait(self.delay_s)
        return super().get_many(user_ids)
