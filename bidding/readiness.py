"""The bidder's /readyz check of the profile service."""

from collections.abc import Callable

from profiles.types import ProfileLookup

# An id no real user has; "not found" proves the service and its store answer.
READY_PROBE_USER_ID = "__helios_readyz__"
READY_PROBE_TIMEOUT_S = 1.0


def profiles_ready(lookup: ProfileLookup) -> Callable[[], bool]:
    """A /readyz check for the profile service, run only when /readyz asks: the lookup's own
    `check_health()` (GrpcProfileLookup: the gRPC health service) when it has one, else one cheap
    lookup of an id nobody has. Bypasses the breaker."""
    check_health = getattr(lookup, "check_health", None)
    if callable(check_health):
        return lambda: bool(check_health())

    def probe() -> bool:
        lookup.batch_get([READY_PROBE_USER_ID], timeout_s=READY_PROBE_TIMEOUT_S)
        return True

    return probe
