"""ProfileStore on fakeredis (unit) and on the real local Redis (integration)."""

import json
import time
import uuid

import fakeredis
import pytest
import redis

from conftest import free_port
from profiles import store as store_module
from profiles.store import ProfileStore, profile_key, profile_store, redis_location
from profiles.tests.helpers import new_fake_store, real_store
from profiles.types import Interest, Profile

ALICE = Profile(
    user_id="alice",
    locale="en-GB",
    interests=[Interest(category="travel", score=0.8), Interest(category="food", score=0.5)],
    demographics={"age_range": "25-34", "country": "GB"},
)


class RecordingFakeRedis(fakeredis.FakeRedis):
    """Records the name of each command sent outside pipelines."""

    def __init__(self, **kwargs):
        super().__init__(server=fakeredis.FakeServer(), **kwargs)
        self.commands: list[str] = []

    def execute_command(self, *args, **options):
        self.commands.append(str(args[0]).upper())
        return super().execute_command(*args, **options)


@pytest.fixture
def store() -> ProfileStore:
    return new_fake_store()


def test_put_writes_the_spec_json_under_the_spec_key(store):
    store.put(ALICE)
    raw = store.client.get("helios:profile:alice")
    assert json.loads(raw) == {
        "user_id": "alice",
        "locale": "en-GB",
        "interests": [{"category": "travel", "score": 0.8}, {"category": "food", "score": 0.5}],
        "demographics": {"age_range": "25-34", "country": "GB"},
    }
    assert profile_key("alice") == "helios:profile:alice"


def test_get_round_trips_and_unknown_is_none(store):
    store.put(ALICE)
    assert store.get("alice") == ALICE
    assert store.get("bob") is None


def test_get_reads_json_written_by_other_tools(store):
    # e.g. the original Helios seed script or redis-cli: keys in another order, fields missing
    store.client.set(
        "helios:profile:carol", '{"interests": [{"score": 0.95, "category": "sports"}], "user_id": "carol"}'
    )
    assert store.get("carol") == Profile(user_id="carol", interests=[Interest(category="sports", score=0.95)])


def test_the_key_decides_the_user_id(store):
    store.client.set("helios:profile:dave", '{"user_id": "someone-else", "locale": "fr-FR"}')
    assert store.get("dave") == Profile(user_id="dave", locale="fr-FR")


def test_a_corrupt_value_reads_as_absent(store):
    store.put(ALICE)
    store.client.set("helios:profile:broken", b"{not json")
    store.client.set("helios:profile:wrong-shape", b'{"user_id": "x", "interests": "lots"}')
    before = store_module.DECODE_ERRORS._value.get()
    assert store.get("broken") is None
    assert store.get_many(["alice", "broken", "wrong-shape"]) == {"alice": ALICE}
    assert store_module.DECODE_ERRORS._value.get() == before + 3


def test_get_many_uses_one_mget_and_skips_unknown_ids():
    client = RecordingFakeRedis()
    store = ProfileStore(client)
    store.put(ALICE)
    bob = Profile(user_id="bob")
    store.put(bob)
    client.commands.clear()
    assert store.get_many(["alice", "nobody", "bob", "alice"]) == {"alice": ALICE, "bob": bob}
    assert client.commands == ["MGET"]
    client.commands.clear()
    assert store.get_many([]) == {}
    assert client.commands == []


def test_put_many_pipelines_in_chunks_and_overwrites(store):
    profiles = [Profile(user_id=f"u{i}", locale="en-US") for i in range(25)]
    assert store.put_many(iter(profiles), chunk_size=10) == 25
    assert store.get_many([p.user_id for p in profiles]) == {p.user_id: p for p in profiles}
    changed = Profile(user_id="u3", locale="de-DE")
    assert store.put_many([changed]) == 1
    assert store.get("u3") == changed
    assert store.put_many([]) == 0


def test_delete_and_delete_all_only_touch_profile_keys(store):
    store.put_many(Profile(user_id=f"u{i}") for i in range(2500))
    store.client.set("other:key", b"keep me")
    assert store.delete("u1") is True
    assert store.delete("u1") is False
    assert store.delete_all() == 2499
    assert store.get("u2") is None
    assert store.client.get("other:key") == b"keep me"


def test_ping(store):
    assert store.ping() is True


def test_redis_location_hides_credentials():
    assert redis_location("redis://user:secret@cache.internal:6380/2") == "cache.internal:6380/2"
    assert redis_location("redis://localhost") == "localhost:6379/0"


def test_profile_store_fake_mode_shares_one_server_per_process(settings):
    settings.HELIOS_PROFILE_STORE = "fake"
    first = profile_store()
    first.put(ALICE)
    assert profile_store() is first
    other_client = ProfileStore(fakeredis.FakeRedis(server=store_module._shared_fake_server()))
    assert other_client.get("alice") == ALICE
    first.delete("alice")


def test_profile_store_redis_mode_uses_redis_url_with_short_timeouts(settings):
    settings.HELIOS_PROFILE_STORE = "redis"
    settings.REDIS_URL = "redis://127.0.0.1:1/3"
    store = profile_store()
    kwargs = store.client.connection_pool.connection_kwargs
    assert (kwargs["host"], kwargs["port"], kwargs["db"]) == ("127.0.0.1", 1, 3)
    assert kwargs["socket_timeout"] == kwargs["socket_connect_timeout"] == 0.5
    assert profile_store() is store


def test_profile_store_rejects_an_unknown_kind(settings):
    settings.HELIOS_PROFILE_STORE = "memcached"
    with pytest.raises(ValueError, match="HELIOS_PROFILE_STORE"):
        profile_store()


def test_a_closed_port_fails_fast_with_a_connection_error():
    store = ProfileStore.from_url(f"redis://127.0.0.1:{free_port()}/0")
    started = time.monotonic()
    with pytest.raises(redis.exceptions.ConnectionError):
        store.get_many(["alice"])
    assert time.monotonic() - started < 1.0


@pytest.mark.services
def test_real_redis_round_trip_and_cleanup():
    store = real_store()
    prefix = f"t{uuid.uuid4().hex[:8]}-"
    profiles = [
        Profile(user_id=f"{prefix}{i}", locale="en-US", interests=[Interest(category="music", score=i / 100)])
        for i in range(100)
    ]
    try:
        assert store.put_many(profiles, chunk_size=30) == 100
        assert store.get(f"{prefix}7") == profiles[7]
        wanted = [p.user_id for p in profiles[:50]] + [f"{prefix}missing"]
        assert store.get_many(wanted) == {p.user_id: p for p in profiles[:50]}
        assert json.loads(store.client.get(profile_key(f"{prefix}1")) or b"")["interests"] == [
            {"category": "music", "score": 0.01}
        ]
        assert store.delete(f"{prefix}0") is True
        assert store.get(f"{prefix}0") is None
    finally:
        store.client.delete(*(profile_key(p.user_id) for p in profiles))
