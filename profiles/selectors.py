"""Reads of user profiles. Redis errors propagate (callers decide: the gRPC servicer answers
UNAVAILABLE)."""

from collections.abc import Sequence

from profiles.store import ProfileStore, profile_store
from profiles.types import Profile


def profile_get(*, user_id: str, store: ProfileStore | None = None) -> Profile | None:
    """The profile of `user_id`, or None when the user is unknown."""
    return (store or profile_store()).get(user_id)


def profile_get_many(*, user_ids: Sequence[str], store: ProfileStore | None = None) -> dict[str, Profile]:
    """The known users among `user_ids` in one round trip; empty and unknown ids are absent."""
    wanted = [user_id for user_id in user_ids if user_id]
    return (store or profile_store()).get_many(wanted)
