"""The profile store: one Redis key per user, `helios:profile:<user_id>`, holding the profile as a
JSON object `{"user_id", "locale", "interests": [{"category", "score"}], "demographics"}` (SPEC §4).

`ProfileStore` wraps any `redis.Redis`-compatible client, so the distributed mode runs it on real
Redis and the embedded mode on an in-process `fakeredis.FakeRedis` with no other difference.
Redis errors (`redis.exceptions.ConnectionError` / `TimeoutError`, both `RedisError`) propagate to
the caller: the gRPC servicer turns them into UNAVAILABLE.
"""

import logging
import threading
from collections.abc import Iterable, Iterator, Sequence
from typing import Any
from urllib.parse import urlsplit

import msgspec
import redis
from django.conf import settings
from prometheus_client import Counter
from redis.backoff import NoBackoff
from redis.retry import Retry

from pipeline.messages import MAX_CATEGORY_CHARS
from profiles.types import Profile

logger = logging.getLogger(__name__)

KEY_PREFIX = "helios:profile:"
# Short socket timeouts: when Redis is down or stalls, a lookup answers UNAVAILABLE in about
# this long instead of hanging past the bidder's deadline.
REDIS_CONNECT_TIMEOUT_S = 0.5
REDIS_SOCKET_TIMEOUT_S = 0.5
WRITE_CHUNK = 1000  # profiles per pipeline round trip in put_many
SCAN_COUNT = 1000

DECODE_ERRORS = Counter(
    "helios_profile_decode_errors_total",
    "Stored profile values that are not valid profile JSON (treated as absent) or hold interests "
    "an outcome cannot store (those interests are left out).",
)

_encoder = msgspec.json.Encoder()
_decoder = msgspec.json.Decoder(Profile)


def category_fits(category: str) -> bool:
    """Whether an outcome can store `category` as its winning interest: 1..MAX_CATEGORY_CHARS
    characters, no NUL (PostgreSQL text cannot hold it)."""
    return 0 < len(category) <= MAX_CATEGORY_CHARS and "\x00" not in category


def profile_key(user_id: str) -> str:
    return f"{KEY_PREFIX}{user_id}"


def encode_profile(profile: Profile) -> bytes:
    return _encoder.encode(profile)


def decode_profile(raw: bytes | str, *, user_id: str) -> Profile | None:
    """The profile stored under `user_id`'s key, or None (and a counted warning) if it is corrupt.

    The key is authoritative: a value whose `user_id` is missing or differs (written by hand) is
    served as the key's user."""
    try:
        profile = _decoder.decode(raw)
    except msgspec.DecodeError as exc:
        DECODE_ERRORS.inc()
        logger.warning("ignoring a corrupt stored profile: %s", exc)
        return None
    if profile.user_id != user_id:
        profile = msgspec.structs.replace(profile, user_id=user_id)
    if not all(category_fits(interest.category) for interest in profile.interests):
        # Written around profile_save (by hand, an older version): serve the interests an outcome
        # can store, so that one bad category cannot send the user's outcomes to the DLQ.
        DECODE_ERRORS.inc()
        logger.warning("ignoring interests with an empty, overlong or NUL category in a stored profile")
        interests = [interest for interest in profile.interests if category_fits(interest.category)]
        profile = msgspec.structs.replace(profile, interests=interests)
    return profile


def _chunks(items: Iterable[Any], size: int) -> Iterator[list[Any]]:
    chunk: list[Any] = []
    for item in items:
        chunk.append(item)
        if len(chunk) >= size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


class ProfileStore:
    """Profiles in Redis. Thread-safe (the client's connection pool is)."""

    def __init__(self, client: redis.Redis) -> None:
        self.client = client

    @classmethod
    def from_url(
        cls,
        url: str,
        *,
        connect_timeout_s: float = REDIS_CONNECT_TIMEOUT_S,
        socket_timeout_s: float = REDIS_SOCKET_TIMEOUT_S,
    ) -> "ProfileStore":
        """A store on a real Redis with short timeouts. Reconnects by itself after an outage.

        A command is retried once, immediately, on a connection error (a pooled connection that
        died while Redis restarted), never on a timeout, so an outage costs at most one connect
        timeout per call."""
        client = redis.Redis.from_url(
            url,
            socket_connect_timeout=connect_timeout_s,
            socket_timeout=socket_timeout_s,
            retry=Retry(NoBackoff(), 1, supported_errors=(redis.exceptions.ConnectionError,)),
            retry_on_timeout=False,
            socket_keepalive=True,
        )
        return cls(client)

    def get(self, user_id: str) -> Profile | None:
        raw = self.client.get(profile_key(user_id))
        return None if raw is None else decode_profile(raw, user_id=user_id)

    def get_many(self, user_ids: Sequence[str]) -> dict[str, Profile]:
        """The known users among `user_ids` (one MGET); unknown ones are absent."""
        unique = list(dict.fromkeys(user_ids))
        if not unique:
            return {}
        values = self.client.mget([profile_key(user_id) for user_id in unique])
        found: dict[str, Profile] = {}
        for user_id, raw in zip(unique, values, strict=True):
            if raw is not None and (profile := decode_profile(raw, user_id=user_id)) is not None:
                found[user_id] = profile
        return found

    def put(self, profile: Profile) -> None:
        self.client.set(profile_key(profile.user_id), encode_profile(profile))

    def put_many(self, profiles: Iterable[Profile], *, chunk_size: int = WRITE_CHUNK) -> int:
        """Writes (overwrites) profiles in pipelined chunks of `chunk_size`; returns how many.

        Not atomic as a whole: a failure mid-way leaves the earlier chunks written."""
        written = 0
        for chunk in _chunks(profiles, chunk_size):
            pipe = self.client.pipeline(transaction=False)
            for profile in chunk:
                pipe.set(profile_key(profile.user_id), encode_profile(profile))
            pipe.execute()
            written += len(chunk)
        return written

    def delete(self, user_id: str) -> bool:
        return bool(self.client.delete(profile_key(user_id)))

    def delete_all(self) -> int:
        """Deletes every `helios:profile:*` key of this Redis database; returns how many."""
        deleted = 0
        keys = self.client.scan_iter(match=f"{KEY_PREFIX}*", count=SCAN_COUNT)
        for chunk in _chunks(keys, SCAN_COUNT):
            deleted += int(self.client.delete(*chunk))
        return deleted

    def ping(self) -> bool:
        """True when Redis answers; raises the Redis error otherwise (a readiness check)."""
        return bool(self.client.ping())


def redis_location(url: str) -> str:
    """`host:port/db` of a Redis URL, without credentials (safe to print or log)."""
    parts = urlsplit(url)
    return f"{parts.hostname or 'localhost'}:{parts.port or 6379}{parts.path or '/0'}"


_fake_server: Any = None
_stores: dict[tuple[str, str], ProfileStore] = {}
_lock = threading.Lock()


def _shared_fake_server() -> Any:
    """One in-process fakeredis server per process, shared by every fake store (embedded mode)."""
    global _fake_server
    if _fake_server is None:
        import fakeredis

        _fake_server = fakeredis.FakeServer()
    return _fake_server


def profile_store() -> ProfileStore:
    """The process's profile store for the current settings (cached per setting).

    `settings.HELIOS_PROFILE_STORE == "fake"`: an in-process fakeredis (one shared server per
    process, so the seed command, admin and gRPC server of the embedded mode see the same data);
    otherwise real Redis at `settings.REDIS_URL`."""
    kind = settings.HELIOS_PROFILE_STORE
    key = (kind, "" if kind == "fake" else settings.REDIS_URL)
    with _lock:
        store = _stores.get(key)
        if store is None:
            if kind == "fake":
                import fakeredis

                store = ProfileStore(fakeredis.FakeRedis(server=_shared_fake_server()))
            elif kind == "redis":
                store = ProfileStore.from_url(settings.REDIS_URL)
            else:
                raise ValueError(f"HELIOS_PROFILE_STORE must be 'redis' or 'fake', not {kind!r}")
            _stores[key] = store
        return store
