"""Writes of user profiles (admin, seed command, tests). Every write is validated first."""

import math
from collections.abc import Iterable, Iterator

from pipeline.messages import MAX_CATEGORY_CHARS, MAX_ID_CHARS
from profiles.store import WRITE_CHUNK, ProfileStore, category_fits, profile_store
from profiles.types import Profile


class InvalidProfile(ValueError):
    """A profile that must not be stored (empty or overlong id or category, score outside [0, 1], ...)."""


def profile_validate(*, profile: Profile) -> Profile:
    """Returns `profile` unchanged if it may be stored; raises InvalidProfile otherwise."""
    if not profile.user_id or len(profile.user_id) > MAX_ID_CHARS:
        raise InvalidProfile(f"user_id must be 1..{MAX_ID_CHARS} characters")
    if profile.user_id != profile.user_id.strip():
        raise InvalidProfile("user_id must not start or end with whitespace")
    for index, interest in enumerate(profile.interests):
        if not category_fits(interest.category):
            raise InvalidProfile(f"interests[{index}].category must be 1..{MAX_CATEGORY_CHARS} characters, without NUL")
        if not (math.isfinite(interest.score) and 0.0 <= interest.score <= 1.0):
            raise InvalidProfile(f"interests[{index}].score must be a number in [0, 1]")
    return profile


def profile_save(*, profile: Profile, store: ProfileStore | None = None) -> Profile:
    """Creates or overwrites one profile."""
    (store or profile_store()).put(profile_validate(profile=profile))
    return profile


def profile_save_many(
    *, profiles: Iterable[Profile], store: ProfileStore | None = None, chunk_size: int = WRITE_CHUNK
) -> int:
    """Creates or overwrites profiles in pipelined chunks; returns how many were written.

    Validates lazily, chunk by chunk: an invalid profile stops the write there, after the
    earlier chunks were written."""
    validated: Iterator[Profile] = (profile_validate(profile=profile) for profile in profiles)
    return (store or profile_store()).put_many(validated, chunk_size=chunk_size)


def profile_delete(*, user_id: str, store: ProfileStore | None = None) -> bool:
    """Deletes one profile; False when there was none."""
    return (store or profile_store()).delete(user_id)


def profile_delete_all(*, store: ProfileStore | None = None) -> int:
    """Deletes every profile of the store's Redis database; returns how many."""
    return (store or profile_store()).delete_all()
