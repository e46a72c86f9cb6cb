import math

import pytest

from profiles.selectors import profile_get, profile_get_many
from profiles.services import (
    InvalidProfile,
    profile_delete,
    profile_delete_all,
    profile_save,
    profile_save_many,
    profile_validate,
)
from profiles.tests.helpers import new_fake_store
from profiles.types import Interest, Profile


@pytest.fixture
def store():
    return new_fake_store()


def test_save_get_delete(store):
    profile = Profile(user_id="u1", interests=[Interest(category="sports", score=1.0)])
    assert profile_save(profile=profile, store=store) == profile
    assert profile_get(user_id="u1", store=store) == profile
    assert profile_delete(user_id="u1", store=store) is True
    assert profile_get(user_id="u1", store=store) is None


def test_get_many_drops_empty_ids(store):
    profile_save_many(profiles=[Profile(user_id="a"), Profile(user_id="b")], store=store)
    assert set(profile_get_many(user_ids=["a", "", "b", "zz"], store=store)) == {"a", "b"}
    assert profile_delete_all(store=store) == 2


@pytest.mark.parametrize(
    "profile",
    [
        Profile(user_id=""),
        Profile(user_id="x" * 129),
        Profile(user_id=" padded"),
        Profile(user_id="u", interests=[Interest(category="", score=0.5)]),
        # An outcome stores the winning interest in 64 characters, without NUL (issue 14).
        Profile(user_id="u", interests=[Interest(category="c" * 65, score=0.5)]),
        Profile(user_id="u", interests=[Interest(category="fo\x00od", score=0.5)]),
        Profile(user_id="u", interests=[Interest(category="food", score=1.01)]),
        Profile(user_id="u", interests=[Interest(category="food", score=-0.1)]),
        Profile(user_id="u", interests=[Interest(category="food", score=math.nan)]),
    ],
)
def test_invalid_profiles_are_refused(store, profile):
    with pytest.raises(InvalidProfile):
        profile_save(profile=profile, store=store)
    assert store.client.dbsize() == 0


def test_boundaries_are_valid():
    for score in (0.0, 1.0):
        profile_validate(profile=Profile(user_id="x" * 128, interests=[Interest(category="c", score=score)]))
    profile_validate(profile=Profile(user_id="u", interests=[Interest(category="c" * 64, score=0.5)]))


def test_save_many_stops_at_the_first_invalid_profile(store):
    profiles = [Profile(user_id=f"u{i}") for i in range(5)] + [Profile(user_id="")]
    with pytest.raises(InvalidProfile):
        profile_save_many(profiles=profiles, store=store, chunk_size=2)
    assert store.client.dbsize() == 4  # the two complete chunks before the bad one
