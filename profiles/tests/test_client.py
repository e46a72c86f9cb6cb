"""GrpcProfileLookup against an in-process server (fakeredis) and failure cases."""

import time
from concurrent.futures import ThreadPoolExecutor

import grpc
import pytest
from prometheus_client import REGISTRY

from conftest import free_port
from profiles import client as client_module
from profiles.client import GrpcProfileLookup, ProfileLookupFailed
from profiles.demo import DEMO_BY_ID, DEMO_PROFILES
from profiles.grpc_server import UserProfileServicer, start_server, stop_server
from profiles.store import ProfileStore
from profiles.tests.helpers import SlowStore, new_fake_store, running_server
from profiles.types import ProfileLookup, ProfileUnavailable
from protos import userprofile_pb2_grpc as pb_grpc


class RecordingServicer(UserProfileServicer):
    def __init__(self, store: ProfileStore) -> None:
        super().__init__(store)
        self.requests: list[list[str]] = []

    def BatchGetUserProfiles(self, request, context):  # noqa: N802 - the servicer's naming
        self.requests.append(list(request.user_ids))
        return super().BatchGetUserProfiles(request, context)


@pytest.fixture
def store() -> ProfileStore:
    store = new_fake_store()
    store.put_many(DEMO_PROFILES)
    return store


@pytest.fixture
def recording(store):
    server = grpc.server(ThreadPoolExecutor(max_workers=4))
    servicer = RecordingServicer(store)
    pb_grpc.add_UserProfileServiceServicer_to_server(servicer, server)
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    lookup = GrpcProfileLookup(f"127.0.0.1:{port}")
    yield lookup, servicer
    lookup.close()
    server.stop(0).wait()


def rpc_count() -> float:
    return REGISTRY.get_sample_value("user_profile_rpc_duration_seconds_count") or 0.0


def test_implements_the_profile_lookup_protocol(recording):
    lookup, _ = recording
    typed: ProfileLookup = lookup
    assert typed.batch_get(["user-001"], timeout_s=2) == {"user-001": DEMO_BY_ID["user-001"].profile}


def test_one_call_with_deduplicated_non_empty_ids(recording):
    lookup, servicer = recording
    before = rpc_count()
    got = lookup.batch_get(["user-002", "", "ghost", "user-002", "user-018"], timeout_s=2)
    assert got == {"user-002": DEMO_BY_ID["user-002"].profile, "user-018": DEMO_BY_ID["user-018"].profile}
    assert servicer.requests == [["user-002", "ghost", "user-018"]]
    assert rpc_count() == before + 1


def test_no_ids_no_call(recording):
    lookup, servicer = recording
    assert lookup.batch_get([], timeout_s=2) == {}
    assert lookup.batch_get(["", ""], timeout_s=2) == {}
    assert servicer.requests == []


def test_more_ids_than_the_server_limit_are_split(recording, monkeypatch):
    monkeypatch.setattr(client_module, "MAX_BATCH_IDS", 8)
    lookup, servicer = recording
    ids = [p.user_id for p in DEMO_PROFILES]
    assert lookup.batch_get(ids, timeout_s=2) == {p.user_id: p for p in DEMO_PROFILES}
    assert [len(r) for r in servicer.requests] == [8, 8, 4]


def test_missed_deadline_raises_profile_unavailable_in_time():
    store = SlowStore(delay_s=2.0)
    with running_server(store) as (_, target), GrpcProfileLookup(target) as lookup:
        assert lookup.wait_ready(timeout_s=2)
        started = time.monotonic()
        with pytest.raises(ProfileLookupFailed) as caught:
            lookup.batch_get(["user-001"], timeout_s=0.05)
        elapsed = time.monotonic() - started
        store.release.set()
    assert elapsed < 0.5
    assert isinstance(caught.value, ProfileUnavailable)
    assert caught.value.code == grpc.StatusCode.DEADLINE_EXCEEDED
    assert caught.value.transient


def test_nobody_listening_raises_profile_unavailable_quickly():
    with GrpcProfileLookup(f"127.0.0.1:{free_port()}") as lookup:
        for _ in range(3):
            started = time.monotonic()
            with pytest.raises(ProfileLookupFailed) as caught:
                lookup.batch_get(["user-001"], timeout_s=0.5)
            assert time.monotonic() - started < 0.6
            assert caught.value.transient
        assert lookup.check_health(timeout_s=0.2) is False


def test_store_down_behind_the_server_raises_profile_unavailable_quickly():
    store = ProfileStore.from_url(f"redis://127.0.0.1:{free_port()}/0")
    with running_server(store) as (_, target), GrpcProfileLookup(target) as lookup:
        assert lookup.check_health() is False
        started = time.monotonic()
        with pytest.raises(ProfileLookupFailed) as caught:
            lookup.batch_get(["user-001"], timeout_s=2)
        assert time.monotonic() - started < 1.0
        assert caught.value.code == grpc.StatusCode.UNAVAILABLE
        assert "Redis" in caught.value.details


def test_other_errors_are_profile_unavailable_but_not_transient(store, monkeypatch, caplog):
    def boom(self, user_ids):
        raise RuntimeError("bug")

    monkeypatch.setattr(ProfileStore, "get_many", boom)
    with running_server(store) as (_, target), GrpcProfileLookup(target) as lookup:
        for _ in range(3):
            with pytest.raises(ProfileLookupFailed) as caught:
                lookup.batch_get(["user-001"], timeout_s=2)
            assert isinstance(caught.value, ProfileUnavailable)
            assert caught.value.code == grpc.StatusCode.UNKNOWN
            assert not caught.value.transient
    errors = [r for r in caplog.records if r.name == "profiles.client"]
    assert len(errors) == 1  # logged once per code change, not per call


def test_health_and_readiness_helpers(store):
    with running_server(store) as (_, target), GrpcProfileLookup(target) as lookup:
        assert lookup.wait_ready(timeout_s=2)
        assert lookup.check_health()


def test_thread_safe_under_concurrent_batches(store):
    ids = [p.user_id for p in DEMO_PROFILES]
    with running_server(store) as (_, target), GrpcProfileLookup(target) as lookup:

        def worker(offset: int) -> int:
            for i in range(30):
                batch = [ids[(offset + i + k) % len(ids)] for k in range(5)]
                got = lookup.batch_get(batch, timeout_s=2)
                assert set(got) == set(batch)
                assert all(got[u] == DEMO_BY_ID[u].profile for u in batch)
            return offset

        with ThreadPoolExecutor(max_workers=8) as pool:
            futures = [pool.submit(worker, n) for n in range(8)]
            assert sorted(f.result(timeout=30) for f in futures) == list(range(8))  # re-raises failures


def test_reconnects_when_the_server_comes_back(store):
    server, port = start_server(host="127.0.0.1", port=0, store=store)
    with GrpcProfileLookup(f"127.0.0.1:{port}") as lookup:
        assert "user-001" in lookup.batch_get(["user-001"], timeout_s=2)
        stop_server(server, grace_s=0)
        with pytest.raises(ProfileUnavailable):
            lookup.batch_get(["user-001"], timeout_s=0.2)
        server, _ = start_server(host="127.0.0.1", port=port, store=store)
        try:
            deadline = time.monotonic() + 5
            while True:
                try:
                    assert "user-001" in lookup.batch_get(["user-001"], timeout_s=0.2)
                    break
                except ProfileUnavailable:
                    assert time.monotonic() < deadline, "the client did not reconnect"
                    time.sleep(0.05)
        finally:
            stop_server(server, grace_s=0)
