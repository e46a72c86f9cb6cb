"""The bidder's side of the profile service: `GrpcProfileLookup` implements
`profiles.types.ProfileLookup` with one `BatchGetUserProfiles` call per batch.

Error policy: every failed RPC raises `ProfileLookupFailed`, a subclass of
`profiles.types.ProfileUnavailable`, so a failed lookup always means "bid unenriched" and never
crashes or dead-letters a batch. Its `code` says why; `transient` is True for UNAVAILABLE and
DEADLINE_EXCEEDED, the two codes SPEC §5's circuit breaker counts. Other codes (INTERNAL,
INVALID_ARGUMENT, UNIMPLEMENTED...) point at a bug or a version mismatch rather than an outage and
are logged at ERROR once per code change.
"""

import logging
import threading
import time
from collections.abc import Sequence

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc
from prometheus_client import Counter, Histogram

from profiles.types import Profile, ProfileUnavailable
from profiles.wire import profile_from_proto
from protos import userprofile_pb2 as pb
from protos import userprofile_pb2_grpc as pb_grpc

logger = logging.getLogger(__name__)

MAX_BATCH_IDS = 10_000  # the server's limit per call (profiles.grpc_server.MAX_BATCH_IDS)
TRANSIENT_CODES = frozenset({grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED})
# After the server comes back, a channel in backoff reconnects within this long (gRPC's default
# maximum is 120 s, far too slow for a bidder that wants its enrichment back).
MAX_RECONNECT_BACKOFF_MS = 2000
CHANNEL_OPTIONS: tuple[tuple[str, int], ...] = (
    ("grpc.initial_reconnect_backoff_ms", 100),
    ("grpc.min_reconnect_backoff_ms", 100),
    ("grpc.max_reconnect_backoff_ms", MAX_RECONNECT_BACKOFF_MS),
)

# Name kept from the original Helios (SPEC §9): one observation per RPC attempt, failures included.
USER_PROFILE_RPC_DURATION = Histogram(
    "user_profile_rpc_duration_seconds",
    "Duration of user profile RPCs made by the bidder (one per batch).",
    buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0),
)
RPC_ERRORS = Counter(
    "helios_profile_rpc_errors_total",
    "Failed user profile RPCs made by the bidder, by gRPC status code.",
    ["code"],
)


class ProfileLookupFailed(ProfileUnavailable):
    """A profile RPC failed. `transient` (UNAVAILABLE / DEADLINE_EXCEEDED) failures are the ones a
    circuit breaker should count."""

    def __init__(self, code: grpc.StatusCode, details: str) -> None:
        super().__init__(f"profile lookup failed: {code.name}: {details}")
        self.code = code
        self.details = details

    @property
    def transient(self) -> bool:
        return self.code in TRANSIENT_CODES


class GrpcProfileLookup:
    """Profile lookups over one long-lived gRPC channel. Thread-safe (channel and stub are).

    Connecting is lazy: creating the object never blocks or fails; the first call connects
    within its own deadline. Call `close()` when done."""

    def __init__(self, target: str) -> None:
        self.target = target
        self._channel = grpc.insecure_channel(target, options=list(CHANNEL_OPTIONS))
        self._stub = pb_grpc.UserProfileServiceStub(self._channel)
        self._health = health_pb2_grpc.HealthStub(self._channel)
        self._last_logged_code: grpc.StatusCode | None = None
        self._log_lock = threading.Lock()

    def batch_get(self, user_ids: Sequence[str], *, timeout_s: float) -> dict[str, Profile]:
        """Profiles of the known users among `user_ids`, keyed by user id; unknown ones are absent.

        Duplicates and empty ids are dropped before the call; no ids, no call. One
        BatchGetUserProfiles with deadline `timeout_s` (more than MAX_BATCH_IDS distinct ids are
        split into sequential calls sharing that deadline). Raises ProfileLookupFailed (a
        ProfileUnavailable) when any call fails or the deadline passes."""
        wanted = list(dict.fromkeys(user_id for user_id in user_ids if user_id))
        if not wanted:
            return {}
        deadline = time.monotonic() + timeout_s
        found: dict[str, Profile] = {}
        for start in range(0, len(wanted), MAX_BATCH_IDS):
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise self._failed(grpc.StatusCode.DEADLINE_EXCEEDED, "deadline passed between batch calls")
            request = pb.BatchGetUserProfilesRequest(user_ids=wanted[start : start + MAX_BATCH_IDS])
            for message in self._call(request, remaining).profiles:
                found[message.user_id] = profile_from_proto(message)
        return found

    def _call(self, request: pb.BatchGetUserProfilesRequest, timeout_s: float) -> pb.BatchGetUserProfilesResponse:
        started = time.perf_counter()
        try:
            response: pb.BatchGetUserProfilesResponse = self._stub.BatchGetUserProfiles(request, timeout=timeout_s)
        except grpc.RpcError as exc:
            code = exc.code() if isinstance(exc, grpc.Call) else grpc.StatusCode.UNKNOWN
            details = (exc.details() if isinstance(exc, grpc.Call) else None) or str(exc)
            raise self._failed(code, details) from exc
        finally:
            USER_PROFILE_RPC_DURATION.observe(time.perf_counter() - started)
        if self._last_logged_code is not None:
            with self._log_lock:
                self._last_logged_code = None
        return response

    def _failed(self, code: grpc.StatusCode, details: str) -> ProfileLookupFailed:
        RPC_ERRORS.labels(code.name).inc()
        error = ProfileLookupFailed(code, details)
        if code not in TRANSIENT_CODES:
            # A bug or version mismatch, not an outage: say so once per change, not per batch.
            with self._log_lock:
                if code != self._last_logged_code:
                    self._last_logged_code = code
                    logger.error("profile service at %s answered %s: %s", self.target, code.name, details)
        return error

    def check_health(self, *, timeout_s: float = 0.5) -> bool:
        """True when the service reports SERVING (its Redis answers): a readiness check."""
        try:
            reply = self._health.Check(health_pb2.HealthCheckRequest(service=""), timeout=timeout_s)
        except grpc.RpcError:
            return False
        return bool(reply.status == health_pb2.HealthCheckResponse.SERVING)

    def wait_ready(self, *, timeout_s: float) -> bool:
        """Blocks until the channel is connected (or `timeout_s` passes); True when connected."""
        try:
            grpc.channel_ready_future(self._channel).result(timeout=timeout_s)
        except grpc.FutureTimeoutError:
            return False
        return True

    def close(self) -> None:
        self._channel.close()

    def __enter__(self) -> "GrpcProfileLookup":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
