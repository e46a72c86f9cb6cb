"""A user profile as stored in Redis (`helios:profile:<user_id>`, JSON) and served over gRPC."""

from collections.abc import Sequence
from typing import Protocol

import msgspec

CATEGORIES = (
    "sports",
    "technology",
    "travel",
    "food",
    "finance",
    "gaming",
    "music",
    "automotive",
    "fitness",
    "fashion",
)


class Interest(msgspec.Struct, frozen=True):
    category: str
    score: float


class Profile(msgspec.Struct, frozen=True):
    user_id: str
    locale: str = ""
    interests: list[Interest] = msgspec.field(default_factory=list)
    demographics: dict[str, str] = msgspec.field(default_factory=dict)


class ProfileUnavailable(Exception):
    """The profile service could not answer in time (UNAVAILABLE / DEADLINE_EXCEEDED)."""


class ProfileLookup(Protocol):
    def batch_get(self, user_ids: Sequence[str], *, timeout_s: float) -> dict[str, Profile]:
        """Profiles of the known users among `user_ids` (unknown ones are absent).

        Raises ProfileUnavailable when the service is down or misses the deadline."""
        ...
