"""`manage.py seed_profiles` and `manage.py runprofiles` (the latter as a real OS process)."""

import json
import signal
import time
import urllib.error
import urllib.request
import uuid

import grpc
import pytest
from django.core.management import call_command
from grpc_health.v1 import health_pb2, health_pb2_grpc

from conftest import free_port, manage, service_env
from profiles.demo import DEMO_PROFILES, synthetic_profiles
from profiles.store import KEY_PREFIX, ProfileStore, profile_key, profile_store
from profiles.tests.helpers import real_store, redis_test_url
from profiles.types import Profile
from protos import userprofile_pb2 as pb
from protos import userprofile_pb2_grpc as pb_grpc

SYNTHETIC = 250


def dump(store: ProfileStore) -> dict[bytes, bytes]:
    keys = sorted(store.client.scan_iter(match=f"{KEY_PREFIX}*", count=1000))
    return dict(zip(keys, store.client.mget(keys), strict=True))


def seeded_keys() -> list[str]:
    ids = [p.user_id for p in DEMO_PROFILES] + [p.user_id for p in synthetic_profiles(SYNTHETIC)]
    return [profile_key(user_id) for user_id in ids]


@pytest.fixture
def fake_mode(settings):
    settings.HELIOS_PROFILE_STORE = "fake"
    store = profile_store()
    store.delete_all()
    yield store
    store.delete_all()


def test_seed_writes_the_demo_set_and_synthetic_users(fake_mode, capsys):
    call_command("seed_profiles", "--synthetic", str(SYNTHETIC), "--chunk", "100")
    assert fake_mode.get_many([p.user_id for p in DEMO_PROFILES]) == {p.user_id: p for p in DEMO_PROFILES}
    assert fake_mode.get("synth-000250") == list(synthetic_profiles(SYNTHETIC))[-1]
    assert fake_mode.get("synth-000251") is None
    assert f"wrote {len(DEMO_PROFILES) + SYNTHETIC} profiles" in capsys.readouterr().out


def test_seed_flush_removes_other_profiles_first(fake_mode):
    fake_mode.put(Profile(user_id="stale-user"))
    call_command("seed_profiles")
    assert fake_mode.get("stale-user") is not None
    call_command("seed_profiles", "--flush")
    assert fake_mode.get("stale-user") is None
    assert len(dump(fake_mode)) == len(DEMO_PROFILES)


def test_seed_rejects_negative_counts(fake_mode):
    from django.core.management import CommandError

    with pytest.raises(CommandError):
        call_command("seed_profiles", "--synthetic", "-1")


@pytest.mark.services
def test_seed_twice_on_real_redis_gives_the_same_data(settings):
    store = real_store()
    settings.HELIOS_PROFILE_STORE = "redis"
    settings.REDIS_URL = redis_test_url()
    try:
        call_command("seed_profiles", "--synthetic", str(SYNTHETIC))
        keys = seeded_keys()
        first = dict(zip(keys, store.client.mget(keys), strict=True))
        assert all(value is not None for value in first.values())
        assert json.loads(first[profile_key("user-005")] or b"") == {
            "user_id": "user-005",
            "locale": "ja-JP",
            "interests": [{"category": "gaming", "score": 0.9}, {"category": "technology", "score": 0.85}],
            "demographics": {"age_range": "18-24", "gender": "m", "country": "JP", "income": "medium"},
        }
        store.client.set(profile_key("user-001"), b'{"user_id": "user-001"}')  # a hand edit
        call_command("seed_profiles", "--synthetic", str(SYNTHETIC))
        assert dict(zip(keys, store.client.mget(keys), strict=True)) == first
    finally:
        store.client.delete(*seeded_keys())


# --- runprofiles as a real process ------------------------------------------------------------


def http_get(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=2) as reply:
            return reply.status, reply.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


@pytest.mark.services
@pytest.mark.e2e
@pytest.mark.parametrize(
    "signum", [pytest.param(signal.SIGTERM, id="SIGTERM"), pytest.param(signal.SIGINT, id="SIGINT")]
)
def test_runprofiles_serves_reports_and_stops_cleanly(tmp_path, signum):
    store = real_store()
    user_id = f"t{uuid.uuid4().hex[:8]}-user"
    store.put(Profile(user_id=user_id, locale="en-US"))
    grpc_port, metrics_port = free_port(), free_port()
    env = service_env(
        REDIS_URL=redis_test_url(),
        HELIOS_PROFILE_STORE="redis",
        HELIOS_PROFILES_HOST="127.0.0.1",
        HELIOS_PROFILES_PORT=str(grpc_port),
        HELIOS_METRICS_HOST="127.0.0.1",
        HELIOS_PROFILES_METRICS_PORT=str(metrics_port),
    )
    log = tmp_path / "runprofiles.log"
    proc = manage("runprofiles", env=env, log=log)
    try:
        with grpc.insecure_channel(f"127.0.0.1:{grpc_port}") as channel:
            health = health_pb2_grpc.HealthStub(channel)
            deadline = time.monotonic() + 30
            while True:
                assert proc.poll() is None, log.read_text()
                try:
                    status = health.Check(health_pb2.HealthCheckRequest(), timeout=1, wait_for_ready=True).status
                    if status == health_pb2.HealthCheckResponse.SERVING:
                        break
                except grpc.RpcError:
                    pass
                assert time.monotonic() < deadline, f"runprofiles did not become ready:\n{log.read_text()}"
                time.sleep(0.1)
            stub = pb_grpc.UserProfileServiceStub(channel)
            reply = stub.GetUserProfile(pb.GetUserProfileRequest(user_id=user_id), timeout=2)
            assert reply.profile.locale == "en-US"
            with pytest.raises(grpc.RpcError) as caught:
                stub.GetUserProfile(pb.GetUserProfileRequest(user_id=f"{user_id}-ghost"), timeout=2)
            assert caught.value.code() == grpc.StatusCode.NOT_FOUND

        side = f"http://127.0.0.1:{metrics_port}"
        assert http_get(f"{side}/healthz") == (200, "ok")
        status, body = http_get(f"{side}/readyz")
        assert (status, json.loads(body)) == (200, {"status": "ready"})
        status, metrics = http_get(f"{side}/metrics")
        assert status == 200
        assert 'helios_profile_lookups_total{method="GetUserProfile",result="found"} 1.0' in metrics
        assert 'helios_profile_lookups_total{method="GetUserProfile",result="not_found"} 1.0' in metrics
        assert "helios_profile_lookup_duration_seconds_bucket" in metrics

        proc.send_signal(signum)
        assert proc.wait(timeout=15) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        store.delete(user_id)
    lines = [json.loads(line) for line in log.read_text().splitlines() if line.startswith("{")]
    messages = [entry["message"] for entry in lines if entry["service"] == "profiles"]
    assert any("listening" in m for m in messages), log.read_text()
    assert any("stopped" in m for m in messages), log.read_text()
    assert user_id not in log.read_text()  # never a user id in the logs
