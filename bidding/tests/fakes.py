"""Test doubles for the bidder: an in-memory ProfileLookup, a settable clock, request builders."""

from collections.abc import Iterable, Sequence

from pipeline.messages import BidRequest, Imp
from profiles.types import Interest, Profile, ProfileUnavailable


class FakeLookup:
    """An in-memory ProfileLookup that records each call and can be told to fail."""

    def __init__(self, profiles: Iterable[Profile] = (), *, error: Exception | None = None) -> None:
        self.profiles = {p.user_id: p for p in profiles}
        self.error = error
        self.calls: list[tuple[list[str], float]] = []

    def batch_get(self, user_ids: Sequence[str], *, timeout_s: float) -> dict[str, Profile]:
        self.calls.append((list(user_ids), timeout_s))
        if self.error is not None:
            raise self.error
        return {u: self.profiles[u] for u in user_ids if u in self.profiles}


class FakeClock:
    def __init__(self, now: float = 1000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def profile(user_id: str, *interests: tuple[str, float]) -> Profile:
    return Profile(user_id=user_id, locale="en-US", interests=[Interest(c, s) for c, s in interests])


# One user per default tier, plus one with no interests.
DEMO_PROFILES = [
    profile("user-premium", ("sports", 0.95), ("travel", 0.4)),
    profile("user-standard", ("food", 0.3), ("technology", 0.9)),
    profile("user-mid", ("music", 0.5)),
    profile("user-low", ("fashion", 0.2)),
    profile("user-empty"),
]


def demo_lookup() -> FakeLookup:
    """A zero-argument lookup factory, for the HELIOS_PROFILE_LOOKUP setting."""
    return FakeLookup(DEMO_PROFILES)


class FakeLookupFailed(ProfileUnavailable):
    """Like profiles.client.ProfileLookupFailed: `transient` says whether the breaker counts it."""

    def __init__(self, code: str, *, transient: bool) -> None:
        super().__init__(f"profile lookup failed: {code}")
        self.transient = transient


def unavailable() -> ProfileUnavailable:
    return FakeLookupFailed("UNAVAILABLE", transient=True)


class HealthCheckedLookup(FakeLookup):
    """A lookup with a `check_health()`, as GrpcProfileLookup has."""

    def __init__(self, healthy: bool) -> None:
        super().__init__()
        self.healthy = healthy
        self.health_checks = 0

    def check_health(self) -> bool:
        self.health_checks += 1
        return self.healthy


def request(
    request_id: str,
    user_id: str | None = None,
    *floors: float | tuple[float, str],
    site_domain: str | None = "news.example",
) -> BidRequest:
    """A bid request with one impression per floor (a bare float is a USD floor); no floors: one
    impression with floor 0."""
    imps = []
    for index, floor in enumerate(floors or (0.0,), start=1):
        amount, currency = floor if isinstance(floor, tuple) else (floor, "USD")
        imps.append(Imp(imp_id=str(index), bidfloor=amount, bidfloorcur=currency))
    return BidRequest(
        request_id=request_id,
        request_digest=f"d-{request_id}",  # any: the bidder passes it on
        user_id=user_id,
        received_at="2026-11-26T12:00:00.123Z",
        source="helios",
        site_domain=site_domain,
        imps=imps,
    )
