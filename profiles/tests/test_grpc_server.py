"""The gRPC service in-process (fakeredis) and against the real local Redis."""

import json
import time
import uuid
from collections.abc import Callable

import grpc
import pytest
import redis
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha.proto_reflection_descriptor_database import ProtoReflectionDescriptorDatabase
from prometheus_client import REGISTRY

from conftest import free_port
from profiles.demo import DEMO_BY_ID, DEMO_PROFILES
from profiles.store import ProfileStore, profile_key
from profiles.tests.helpers import new_fake_store, real_store, running_server
from profiles.types import Interest, Profile
from profiles.wire import profile_from_proto
from protos import userprofile_pb2 as pb
from protos import userprofile_pb2_grpc as pb_grpc

SERVING = health_pb2.HealthCheckResponse.SERVING
NOT_SERVING = health_pb2.HealthCheckResponse.NOT_SERVING


def wait_for(predicate: Callable[[], bool], timeout_s: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.02)
    return predicate()


def health_status(channel: grpc.Channel, service: str = "") -> int:
    stub = health_pb2_grpc.HealthStub(channel)
    return stub.Check(health_pb2.HealthCheckRequest(service=service), timeout=2).status


def lookups(method: str, result: str) -> float:
    value = REGISTRY.get_sample_value("helios_profile_lookups_total", {"method": method, "result": result})
    return value or 0.0


@pytest.fixture
def fake_store() -> ProfileStore:
    store = new_fake_store()
    store.put_many(DEMO_PROFILES)
    return store


@pytest.fixture
def fake_service(fake_store):
    with running_server(fake_store, health_interval_s=0.05) as (_, target), grpc.insecure_channel(target) as channel:
        yield pb_grpc.UserProfileServiceStub(channel), channel, fake_store


def test_get_found(fake_service):
    stub, _, _ = fake_service
    before = lookups("GetUserProfile", "found")
    reply = stub.GetUserProfile(pb.GetUserProfileRequest(user_id="user-001"), timeout=2)
    assert profile_from_proto(reply.profile) == DEMO_BY_ID["user-001"].profile
    assert lookups("GetUserProfile", "found") == before + 1


def test_get_a_user_without_interests(fake_service):
    stub, _, _ = fake_service
    reply = stub.GetUserProfile(pb.GetUserProfileRequest(user_id="user-018"), timeout=2)
    assert list(reply.profile.interests) == []
    assert reply.profile.locale == "en-US"


def test_a_stored_category_no_outcome_can_hold_is_not_served(fake_service):
    """Written around profile_save (by hand in Redis): the bidder must not get it (issue 14)."""
    stub, _, store = fake_service
    raw = {"user_id": "hand", "interests": [{"category": "c" * 65, "score": 0.99}, {"category": "food", "score": 0.5}]}
    store.client.set(profile_key("hand"), json.dumps(raw))
    reply = stub.GetUserProfile(pb.GetUserProfileRequest(user_id="hand"), timeout=2)
    assert [(i.category, i.score) for i in reply.profile.interests] == [("food", 0.5)]


@pytest.mark.parametrize(
    ("user_id", "code", "result"),
    [("nobody", grpc.StatusCode.NOT_FOUND, "not_found"), ("", grpc.StatusCode.INVALID_ARGUMENT, "invalid_argument")],
)
def test_get_errors(fake_service, user_id, code, result):
    stub, _, _ = fake_service
    before = lookups("GetUserProfile", result)
    with pytest.raises(grpc.RpcError) as caught:
        stub.GetUserProfile(pb.GetUserProfileRequest(user_id=user_id), timeout=2)
    assert caught.value.code() == code
    assert lookups("GetUserProfile", result) == before + 1


def test_batch_leaves_unknown_and_empty_ids_out(fake_service):
    stub, _, _ = fake_service
    ids = ["user-003", "ghost", "", "user-018", "user-003"]
    reply = stub.BatchGetUserProfiles(pb.BatchGetUserProfilesRequest(user_ids=ids), timeout=2)
    got = {p.user_id: profile_from_proto(p) for p in reply.profiles}
    assert got == {"user-003": DEMO_BY_ID["user-003"].profile, "user-018": DEMO_BY_ID["user-018"].profile}
    assert len(reply.profiles) == 2
    empty = stub.BatchGetUserProfiles(pb.BatchGetUserProfilesRequest(user_ids=[]), timeout=2)
    assert list(empty.profiles) == []


def test_batch_over_the_limit_is_invalid(fake_service, monkeypatch):
    from profiles import grpc_server

    monkeypatch.setattr(grpc_server, "MAX_BATCH_IDS", 3)
    stub, _, _ = fake_service
    with pytest.raises(grpc.RpcError) as caught:
        stub.BatchGetUserProfiles(pb.BatchGetUserProfilesRequest(user_ids=["a", "b", "c", "d"]), timeout=2)
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT


def test_store_down_answers_unavailable_and_health_follows_the_store(fake_service):
    stub, channel, store = fake_service
    assert health_status(channel) == SERVING
    store.client.connection_pool.connection_kwargs["server"].connected = False
    for call in (
        lambda: stub.GetUserProfile(pb.GetUserProfileRequest(user_id="user-001"), timeout=2),
        lambda: stub.BatchGetUserProfiles(pb.BatchGetUserProfilesRequest(user_ids=["user-001"]), timeout=2),
    ):
        with pytest.raises(grpc.RpcError) as caught:
            call()
        assert caught.value.code() == grpc.StatusCode.UNAVAILABLE
        assert "Redis" in caught.value.details()
    assert health_status(channel) == NOT_SERVING
    assert health_status(channel, "helios.userprofile.UserProfileService") == NOT_SERVING
    store.client.connection_pool.connection_kwargs["server"].connected = True
    assert wait_for(lambda: health_status(channel) == SERVING)
    assert stub.GetUserProfile(pb.GetUserProfileRequest(user_id="user-001"), timeout=2).profile.user_id == "user-001"


def test_unexpected_errors_answer_internal(fake_store, monkeypatch):
    def boom(self, user_ids):
        raise RuntimeError("bug")

    monkeypatch.setattr(ProfileStore, "get_many", boom)
    with running_server(fake_store) as (_, target), grpc.insecure_channel(target) as channel:
        stub = pb_grpc.UserProfileServiceStub(channel)
        before = lookups("BatchGetUserProfiles", "internal")
        with pytest.raises(grpc.RpcError) as caught:
            stub.BatchGetUserProfiles(pb.BatchGetUserProfilesRequest(user_ids=["user-001"]), timeout=2)
        assert caught.value.code() == grpc.StatusCode.UNKNOWN
        assert lookups("BatchGetUserProfiles", "internal") == before + 1


def test_a_taken_port_is_an_error(fake_store):
    from profiles.grpc_server import start_server

    with running_server(fake_store) as (_, target):
        port = int(target.rsplit(":", 1)[1])
        with pytest.raises(RuntimeError, match="cannot bind"):
            start_server(host="127.0.0.1", port=port, store=fake_store)


def test_stop_server_turns_health_not_serving_first(fake_store):
    from profiles.grpc_server import start_server, stop_server

    server, port = start_server(host="127.0.0.1", port=0, store=fake_store)
    with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
        stub = health_pb2_grpc.HealthStub(channel)
        watch = stub.Watch(health_pb2.HealthCheckRequest(service=""), timeout=5)
        assert next(watch).status == SERVING
        stop_server(server, grace_s=0.2)
        assert next(watch).status == NOT_SERVING


# --- against the real local Redis and a real port -------------------------------------------


@pytest.fixture
def real_service():
    store = real_store()
    prefix = f"t{uuid.uuid4().hex[:8]}-"
    profiles = [
        Profile(user_id=f"{prefix}{p.user_id}", locale=p.locale, interests=p.interests, demographics=p.demographics)
        for p in DEMO_PROFILES
    ]
    store.put_many(profiles)
    try:
        with running_server(store) as (_, target), grpc.insecure_channel(target) as channel:
            yield pb_grpc.UserProfileServiceStub(channel), channel, prefix
    finally:
        store.client.delete(*(profile_key(p.user_id) for p in profiles))


@pytest.mark.services
def test_real_get_found_not_found_invalid(real_service):
    stub, _, prefix = real_service
    reply = stub.GetUserProfile(pb.GetUserProfileRequest(user_id=f"{prefix}user-005"), timeout=2)
    assert list(reply.profile.interests) == [
        pb.Interest(category="gaming", score=0.9),
        pb.Interest(category="technology", score=0.85),
    ]
    assert dict(reply.profile.demographics)["country"] == "JP"
    for user_id, code in ((f"{prefix}ghost", grpc.StatusCode.NOT_FOUND), ("", grpc.StatusCode.INVALID_ARGUMENT)):
        with pytest.raises(grpc.RpcError) as caught:
            stub.GetUserProfile(pb.GetUserProfileRequest(user_id=user_id), timeout=2)
        assert caught.value.code() == code


@pytest.mark.services
def test_real_batch_leaves_unknown_ids_out(real_service):
    stub, _, prefix = real_service
    ids = [f"{prefix}user-{n:03d}" for n in range(1, 21)] + [f"{prefix}ghost-{n}" for n in range(5)]
    reply = stub.BatchGetUserProfiles(pb.BatchGetUserProfilesRequest(user_ids=ids), timeout=2)
    assert sorted(p.user_id for p in reply.profiles) == sorted(ids[:20])
    by_id = {p.user_id: p for p in reply.profiles}
    assert by_id[f"{prefix}user-018"].interests == []
    assert by_id[f"{prefix}user-003"].interests[0] == pb.Interest(category="travel", score=1.0)


@pytest.mark.services
def test_real_health_is_serving_and_reflection_lists_the_service(real_service):
    _, channel, _ = real_service
    assert health_status(channel) == SERVING
    assert health_status(channel, "helios.userprofile.UserProfileService") == SERVING
    reflection_db = ProtoReflectionDescriptorDatabase(channel)
    services = set(reflection_db.get_services())
    assert {"helios.userprofile.UserProfileService", "grpc.health.v1.Health"} <= services
    from google.protobuf.descriptor_pool import DescriptorPool

    pool = DescriptorPool(reflection_db)
    method = pool.FindServiceByName("helios.userprofile.UserProfileService").FindMethodByName("BatchGetUserProfiles")
    assert method.input_type.full_name == "helios.userprofile.BatchGetUserProfilesRequest"


def test_redis_on_a_closed_port_answers_unavailable_quickly():
    store = ProfileStore.from_url(f"redis://127.0.0.1:{free_port()}/0")
    with running_server(store) as (_, target), grpc.insecure_channel(target) as channel:
        stub = pb_grpc.UserProfileServiceStub(channel)
        assert health_status(channel) == NOT_SERVING
        started = time.monotonic()
        with pytest.raises(grpc.RpcError) as caught:
            stub.BatchGetUserProfiles(pb.BatchGetUserProfilesRequest(user_ids=["user-001"]), timeout=5)
        assert caught.value.code() == grpc.StatusCode.UNAVAILABLE
        assert time.monotonic() - started < 1.0


def _pings(store: ProfileStore) -> bool:
    try:
        return store.ping()
    except redis.exceptions.RedisError:
        return False


@pytest.mark.services
def test_recovers_by_itself_when_redis_comes_back(private_redis):
    port, start, stop = private_redis.port, private_redis.start, private_redis.stop
    store = ProfileStore.from_url(f"redis://127.0.0.1:{port}/0")
    store.put(Profile(user_id="u1", interests=[Interest(category="food", score=0.6)]))
    with running_server(store, health_interval_s=0.1) as (_, target), grpc.insecure_channel(target) as channel:
        stub = pb_grpc.UserProfileServiceStub(channel)
        request = pb.GetUserProfileRequest(user_id="u1")
        assert stub.GetUserProfile(request, timeout=2).profile.user_id == "u1"
        stop()
        with pytest.raises(grpc.RpcError) as caught:
            stub.GetUserProfile(request, timeout=2)
        assert caught.value.code() == grpc.StatusCode.UNAVAILABLE
        assert wait_for(lambda: health_status(channel) == NOT_SERVING)
        start()  # an empty Redis: the profile is gone, but the service answers again
        assert wait_for(lambda: health_status(channel) == SERVING)
        with pytest.raises(grpc.RpcError) as caught:
            stub.GetUserProfile(request, timeout=2)
        assert caught.value.code() == grpc.StatusCode.NOT_FOUND
        store.put(Profile(user_id="u1"))
        assert stub.GetUserProfile(request, timeout=2).profile.user_id == "u1"
