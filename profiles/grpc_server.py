"""The profiles role's gRPC server: `helios.userprofile.UserProfileService` over the profile store,
plus the standard gRPC health service and server reflection (SPEC §4).

Status codes: empty user_id -> INVALID_ARGUMENT; unknown user -> NOT_FOUND (batch: absent);
Redis unreachable or too slow -> UNAVAILABLE; any other failure is a bug: gRPC answers UNKNOWN
and logs the traceback (counted as result="internal"). Health is SERVING while Redis answers: a failed
lookup flips it to NOT_SERVING at once, and a background ping every `HEALTH_INTERVAL_S` flips it
back when Redis returns (the Redis client reconnects by itself, no restart needed).
"""

import logging
import threading
import time
import weakref
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import NoReturn

import grpc
import redis
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection
from prometheus_client import Counter, Histogram

from profiles.selectors import profile_get, profile_get_many
from profiles.store import ProfileStore
from profiles.wire import profile_to_proto
from protos import userprofile_pb2 as pb
from protos import userprofile_pb2_grpc as pb_grpc

logger = logging.getLogger(__name__)

SERVICE_NAME = pb.DESCRIPTOR.services_by_name["UserProfileService"].full_name
DEFAULT_WORKERS = 16
HEALTH_INTERVAL_S = 1.0
STOP_GRACE_S = 5.0
MAX_BATCH_IDS = 10_000
# Redis being down is an expected, retryable condition: these errors answer UNAVAILABLE.
STORE_DOWN_ERRORS = (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError)

LOOKUPS = Counter(
    "helios_profile_lookups_total",
    "Profile RPCs answered, by method and result "
    "(found, not_found, invalid_argument, unavailable, internal; batches count as found).",
    ["method", "result"],
)
LOOKUP_DURATION = Histogram(
    "helios_profile_lookup_duration_seconds",
    "Time to answer a profile RPC, by method.",
    ["method"],
    buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0),
)
BATCH_USERS = Counter(
    "helios_profile_batch_users_total",
    "Distinct user ids asked for in BatchGetUserProfiles, by result (found, missing).",
    ["result"],
)


class StoreHealth:
    """Keeps the gRPC health status (overall and per service) in step with the profile store."""

    def __init__(self, servicer: health.HealthServicer, store: ProfileStore) -> None:
        self.servicer = servicer
        self.store = store
        self._serving: bool | None = None
        self._lock = threading.Lock()

    def report(self, serving: bool, error: BaseException | None = None) -> None:
        """Records the store's state; cheap when nothing changed (called on every lookup)."""
        if serving is self._serving:
            return
        with self._lock:
            if serving is self._serving:
                return
            first = self._serving is None
            self._serving = serving
            status = health_pb2.HealthCheckResponse.SERVING if serving else health_pb2.HealthCheckResponse.NOT_SERVING
            for name in ("", SERVICE_NAME):
                self.servicer.set(name, status)
        if not serving:
            logger.warning("profile store unreachable, health NOT_SERVING: %s: %s", type(error).__name__, error)
        elif not first:
            logger.info("profile store reachable again, health SERVING")

    def check(self) -> bool:
        try:
            self.store.ping()
        except redis.exceptions.RedisError as exc:
            self.report(False, exc)
            return False
        self.report(True)
        return True

    def watch(self, server: grpc.Server, interval_s: float) -> None:
        """Pings the store every `interval_s` until `server` has terminated."""
        while server.wait_for_termination(timeout=interval_s):
            self.check()


def _abort(context: grpc.ServicerContext, code: grpc.StatusCode, details: str) -> NoReturn:
    context.abort(code, details)  # raises
    raise AssertionError("ServicerContext.abort returned")  # pragma: no cover


class UserProfileServicer(pb_grpc.UserProfileServiceServicer):
    """Thin: validates, calls the selectors, maps store failures to status codes."""

    def __init__(self, store: ProfileStore, store_health: StoreHealth | None = None) -> None:
        self.store = store
        self.health = store_health

    def _store_down(self, context: grpc.ServicerContext, exc: BaseException) -> NoReturn:
        if self.health is not None:
            self.health.report(False, exc)
        _abort(context, grpc.StatusCode.UNAVAILABLE, f"profile store (Redis) unavailable: {type(exc).__name__}: {exc}")

    def _store_up(self) -> None:
        if self.health is not None:
            self.health.report(True)

    def GetUserProfile(  # noqa: N802 - the generated servicer's naming
        self, request: pb.GetUserProfileRequest, context: grpc.ServicerContext
    ) -> pb.GetUserProfileResponse:
        started = time.perf_counter()
        result = "internal"
        try:
            if not request.user_id:
                result = "invalid_argument"
                _abort(context, grpc.StatusCode.INVALID_ARGUMENT, "user_id is required")
            try:
                profile = profile_get(user_id=request.user_id, store=self.store)
            except STORE_DOWN_ERRORS as exc:
                result = "unavailable"
                self._store_down(context, exc)
            self._store_up()
            if profile is None:
                result = "not_found"
                _abort(context, grpc.StatusCode.NOT_FOUND, "no profile for this user_id")
            result = "found"
            return pb.GetUserProfileResponse(profile=profile_to_proto(profile))
        finally:
            LOOKUPS.labels("GetUserProfile", result).inc()
            LOOKUP_DURATION.labels("GetUserProfile").observe(time.perf_counter() - started)

    def BatchGetUserProfiles(  # noqa: N802 - the generated servicer's naming
        self, request: pb.BatchGetUserProfilesRequest, context: grpc.ServicerContext
    ) -> pb.BatchGetUserProfilesResponse:
        started = time.perf_counter()
        result = "internal"
        try:
            wanted = list(dict.fromkeys(user_id for user_id in request.user_ids if user_id))
            if len(wanted) > MAX_BATCH_IDS:
                result = "invalid_argument"
                _abort(context, grpc.StatusCode.INVALID_ARGUMENT, f"at most {MAX_BATCH_IDS} distinct user_ids per call")
            try:
                found = profile_get_many(user_ids=wanted, store=self.store)
            except STORE_DOWN_ERRORS as exc:
                result = "unavailable"
                self._store_down(context, exc)
            self._store_up()
            BATCH_USERS.labels("found").inc(len(found))
            BATCH_USERS.labels("missing").inc(len(wanted) - len(found))
            result = "found"
            return pb.BatchGetUserProfilesResponse(profiles=[profile_to_proto(p) for p in found.values()])
        finally:
            LOOKUPS.labels("BatchGetUserProfiles", result).inc()
            LOOKUP_DURATION.labels("BatchGetUserProfiles").observe(time.perf_counter() - started)


# The health servicer of each running server, for a graceful stop_server(); weak so a dropped
# server does not leak.
_healths: "weakref.WeakKeyDictionary[grpc.Server, health.HealthServicer]" = weakref.WeakKeyDictionary()


def _address(host: str, port: int) -> str:
    if ":" in host and not host.startswith("["):
        host = f"[{host}]"  # an IPv6 literal
    return f"{host}:{port}"


def start_server(
    *,
    host: str,
    port: int,
    store: ProfileStore,
    max_workers: int = DEFAULT_WORKERS,
    health_interval_s: float = HEALTH_INTERVAL_S,
) -> tuple[grpc.Server, int]:
    """Starts the profile service (plus health and reflection) and returns `(server, bound_port)`.

    Non-blocking: the server runs on its own threads until `stop_server(server)` (or
    `server.stop(grace)`). `port=0` binds a free port. Raises RuntimeError if the port cannot be
    bound (SO_REUSEPORT is off, so a port already in use is an error, not a silent share)."""
    server = grpc.server(
        ThreadPoolExecutor(max_workers=max_workers, thread_name_prefix="profiles-grpc"),
        options=[("grpc.so_reuseport", 0)],
    )
    health_servicer = health.HealthServicer(experimental_non_blocking=True)
    store_health = StoreHealth(health_servicer, store)
    pb_grpc.add_UserProfileServiceServicer_to_server(UserProfileServicer(store, store_health), server)
    health_pb2_grpc.add_HealthServicer_to_server(health_servicer, server)
    reflection.enable_server_reflection((SERVICE_NAME, health.SERVICE_NAME, reflection.SERVICE_NAME), server)
    try:
        bound = server.add_insecure_port(_address(host, port))
    except RuntimeError as exc:
        raise RuntimeError(f"cannot bind the profile service on {_address(host, port)}: {exc}") from exc
    if bound == 0:
        raise RuntimeError(f"cannot bind the profile service on {_address(host, port)}")
    store_health.check()  # the first status, before any client can ask
    server.start()
    _healths[server] = health_servicer
    threading.Thread(
        target=store_health.watch, args=(server, health_interval_s), name="profiles-health", daemon=True
    ).start()
    return server, bound


def stop_server(server: grpc.Server, *, grace_s: float = STOP_GRACE_S) -> None:
    """Stops a server from start_server: health turns NOT_SERVING at once, new calls are refused,
    calls in flight get up to `grace_s` to finish. Blocks until the server has stopped."""
    health_servicer = _healths.pop(server, None)
    if health_servicer is not None:
        health_servicer.enter_graceful_shutdown()
    server.stop(grace_s).wait()


def serve(
    stop: threading.Event,
    *,
    host: str,
    port: int,
    store: ProfileStore,
    grace_s: float = STOP_GRACE_S,
    max_workers: int = DEFAULT_WORKERS,
    on_bound: Callable[[int], object] | None = None,
) -> None:
    """Serves until `stop` is set, then stops gracefully. Blocks; logs once at start and stop.
    `on_bound(port)` is called once the server is serving on `port`."""
    server, bound = start_server(host=host, port=port, store=store, max_workers=max_workers)
    logger.info("profile service listening on %s", _address(host, bound))
    try:
        if on_bound is not None:
            on_bound(bound)
        while not stop.wait(timeout=1.0):
            pass
    finally:
        stop_server(server, grace_s=grace_s)
        logger.info("profile service stopped")
