"""A user profile as stored in Redis (`helios:profile:<user_id>`, JSON) and served over gRPC."""

from collections.abc import Sequence
from typing import Protocol

import msgspec

from pipeline.messages import MAX_CATEGORY_CHARS as MAX_CATEGORY_CHARS  # re-exported

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


def category_fits(category: str) -> bool:
    """Whether an outcome can store `category` as its winning interest: 1..MAX_CATEGORY_CHARS
    characters, no NUL (PostgreSQL text cannot hold it)."""
    return 0 < len(category) <= MAX_CATEGORY_CHARS and "\x00" not in category


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
