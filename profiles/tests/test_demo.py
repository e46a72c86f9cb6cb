"""The demo set covers what SPEC §4 asks: user-001..user-020, ten categories, every price tier."""

from profiles.demo import DEMO_BY_ID, DEMO_PROFILES, DEMO_USERS, TIERS, synthetic_profile, synthetic_profiles
from profiles.services import profile_validate
from profiles.types import CATEGORIES


def spec_tier(score: float | None) -> str:
    """SPEC §5's default tiers, written independently of bidding/pricing.py."""
    if score is None:
        return "base"
    if score > 0.9:
        return "premium"
    if score >= 0.7:
        return "standard"
    if score >= 0.5:
        return "mid"
    return "base"


def test_user_001_to_020_each_with_locale_and_demographics():
    ids = [p.user_id for p in DEMO_PROFILES]
    assert ids[:20] == [f"user-{n:03d}" for n in range(1, 21)]
    assert len(set(ids)) == len(ids)
    for profile in DEMO_PROFILES:
        profile_validate(profile=profile)
        assert profile.locale
        assert profile.demographics


def test_all_ten_categories_are_winning_interests():
    assert {u.winning_interest for u in DEMO_USERS} - {None} == set(CATEGORIES)
    assert {i.category for p in DEMO_PROFILES for i in p.interests} <= set(CATEGORIES)


def test_expected_winner_and_tier_follow_the_spec_rules():
    for user in DEMO_USERS:
        interests = user.profile.interests
        if interests:
            best = max(interests, key=lambda i: i.score)  # max keeps the first of equal scores
            assert (best.category, best.score) == (user.winning_interest, user.score), user.profile.user_id
        else:
            assert user.winning_interest is None
        assert spec_tier(user.score) == user.tier, user.profile.user_id


def test_every_tier_and_every_boundary_is_covered():
    assert {u.tier for u in DEMO_USERS} == set(TIERS)
    scores = {u.score: u.tier for u in DEMO_USERS}
    assert scores[0.9] == "standard"
    assert scores[0.7] == "standard"
    assert scores[0.5] == "mid"
    assert any(u.score is None for u in DEMO_USERS)  # a user with no interests
    assert DEMO_BY_ID["user-019"].winning_interest == "fitness"  # tie: first listed


def test_synthetic_users_are_deterministic_and_independent_of_count():
    first = list(synthetic_profiles(50))
    assert [p.user_id for p in first[:2]] == ["synth-000001", "synth-000002"]
    assert first == list(synthetic_profiles(50))
    assert list(synthetic_profiles(5, first=46)) == first[45:]
    assert synthetic_profile(3) == first[2]
    assert synthetic_profile(3, seed=1) != first[2]
    for profile in first:
        profile_validate(profile=profile)
    assert {i.category for p in synthetic_profiles(500) for i in p.interests} == set(CATEGORIES)
