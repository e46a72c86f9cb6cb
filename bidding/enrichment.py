"""Profile enrichment of the bidder: which lookup, through which circuit breaker, and what a batch
gets when the profile service fails (it bids unenriched, SPEC §5)."""

import logging
from collections.abc import Callable, Mapping, Sequence

from django.conf import settings
from django.utils.module_loading import import_string

from bidding.breaker import CircuitBreaker
from pipeline.messages import BidRequest
from profiles.types import Profile, ProfileLookup, ProfileUnavailable

logger = logging.getLogger(__name__)


def make_lookup() -> ProfileLookup:
    """The bidder's profile lookup: HELIOS_PROFILE_LOOKUP (dotted path of a zero-argument factory)
    when set, else the gRPC client at HELIOS_PROFILES_TARGET."""
    path = settings.HELIOS_PROFILE_LOOKUP
    if path:
        factory: Callable[[], ProfileLookup] = import_string(path)
        return factory()
    from profiles.client import GrpcProfileLookup

    return GrpcProfileLookup(settings.HELIOS_PROFILES_TARGET)


def make_breaker() -> CircuitBreaker:
    return CircuitBreaker(
        "profiles", failure_threshold=settings.HELIOS_BREAKER_FAILURES, open_s=settings.HELIOS_BREAKER_OPEN_S
    )


def lookup_profiles(
    user_ids: Sequence[str], *, lookup: ProfileLookup, breaker: CircuitBreaker, timeout_s: float
) -> tuple[Mapping[str, Profile], str | None]:
    """One batched lookup through the breaker: (profiles found, failure status or None).

    Never raises: on failure the bidder prices unenriched. Failure statuses:
    - "skipped": the breaker is open, no call was made;
    - "unavailable": ProfileUnavailable that is transient (UNAVAILABLE / DEADLINE_EXCEEDED; an
      exception without a `transient` attribute counts as transient). The breaker counts it.
    - "error": a non-transient ProfileUnavailable (INTERNAL, INVALID_ARGUMENT...: the service
      answered, so the breaker ignores it; the client logs it), or any other exception, a bug in
      the lookup, which is logged with its traceback and counted by the breaker so that a lookup
      that keeps crashing is skipped and its log stays bounded.
    """
    if not user_ids:
        return {}, None
    if not breaker.allow():
        return {}, "skipped"
    try:
        profiles = lookup.batch_get(user_ids, timeout_s=timeout_s)
    except ProfileUnavailable as exc:
        if getattr(exc, "transient", True):
            breaker.record_failure()
            logger.debug("profile lookup unavailable for a batch of %d users: %s", len(user_ids), exc)
            return {}, "unavailable"
        breaker.record_neutral()
        return {}, "error"
    except Exception:
        breaker.record_failure()
        logger.exception("profile lookup failed unexpectedly for a batch of %d users", len(user_ids))
        return {}, "error"
    breaker.record_success()
    return profiles, None


def enrichment_status(request: BidRequest, profile: Profile | None, failure: str | None) -> str:
    """The request's `user_profile_enrichment_total` status."""
    if not request.user_id:
        return "no_user"
    if failure is not None:
        return failure
    return "found" if profile is not None else "not_found"
