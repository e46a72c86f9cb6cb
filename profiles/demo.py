"""The deterministic demo profiles loaded by `manage.py seed_profiles`, and synthetic load-test users.

Pure data, no I/O: tests (here and in the bidder) import `DEMO_USERS` to know what each demo user
must price at. `DemoUser.tier` / `.winning_interest` are the outcome under SPEC §5's default tiers
(s > 0.9 premium; 0.7 <= s <= 0.9 standard; 0.5 <= s < 0.7 mid; otherwise base; highest score
wins, ties go to the first listed), written out by hand so a test compares two independent sources.
"""

import random
from collections.abc import Iterator
from dataclasses import dataclass

from profiles.types import CATEGORIES, Interest, Profile

SYNTHETIC_PREFIX = "synth-"
SYNTHETIC_SEED = 20260101
TIERS = ("premium", "standard", "mid", "base")


@dataclass(frozen=True)
class DemoUser:
    profile: Profile
    winning_interest: str | None  # None when the user has no interests
    score: float | None
    tier: str  # one of TIERS
    note: str = ""


def _user(
    number: int,
    locale: str,
    interests: list[tuple[str, float]],
    demographics: dict[str, str],
    *,
    wins: str | None,
    tier: str,
    note: str = "",
) -> DemoUser:
    profile = Profile(
        user_id=f"user-{number:03d}",
        locale=locale,
        interests=[Interest(category=category, score=score) for category, score in interests],
        demographics=demographics,
    )
    score = dict(interests)[wins] if wins else None
    return DemoUser(profile=profile, winning_interest=wins, score=score, tier=tier, note=note)


def _demo(age: str, gender: str, country: str, income: str) -> dict[str, str]:
    return {"age_range": age, "gender": gender, "country": country, "income": income}


DEMO_USERS: tuple[DemoUser, ...] = (
    # premium: s > 0.9
    _user(1, "en-US", [("sports", 0.95), ("technology", 0.6)], _demo("25-34", "m", "US", "medium"),
          wins="sports", tier="premium"),
    _user(2, "en-GB", [("technology", 0.92), ("gaming", 0.8), ("music", 0.3)], _demo("18-24", "f", "GB", "low"),
          wins="technology", tier="premium"),
    _user(3, "fr-FR", [("travel", 1.0), ("food", 0.75)], _demo("35-44", "f", "FR", "high"),
          wins="travel", tier="premium", note="the maximum score"),
    _user(4, "de-DE", [("finance", 0.901), ("automotive", 0.4)], _demo("45-54", "m", "DE", "high"),
          wins="finance", tier="premium", note="just above the 0.9 boundary"),
    # standard: 0.7 <= s <= 0.9
    _user(5, "ja-JP", [("gaming", 0.9), ("technology", 0.85)], _demo("18-24", "m", "JP", "medium"),
          wins="gaming", tier="standard", note="exactly 0.9 is standard, not premium"),
    _user(6, "es-ES", [("music", 0.85), ("travel", 0.2)], _demo("25-34", "f", "ES", "medium"),
          wins="music", tier="standard"),
    _user(7, "it-IT", [("automotive", 0.7)], _demo("55-64", "m", "IT", "high"),
          wins="automotive", tier="standard", note="exactly 0.7 is standard"),
    _user(8, "pt-BR", [("fitness", 0.78), ("food", 0.65), ("fashion", 0.5)], _demo("25-34", "f", "BR", "low"),
          wins="fitness", tier="standard"),
    _user(9, "en-AU", [("fashion", 0.88), ("travel", 0.45)], _demo("35-44", "f", "AU", "medium"),
          wins="fashion", tier="standard"),
    # mid: 0.5 <= s < 0.7
    _user(10, "en-CA", [("food", 0.69), ("fitness", 0.2)], _demo("45-54", "f", "CA", "medium"),
          wins="food", tier="mid", note="just below the 0.7 boundary"),
    _user(11, "nl-NL", [("sports", 0.5)], _demo("65+", "m", "NL", "medium"),
          wins="sports", tier="mid", note="exactly 0.5 is mid"),
    _user(12, "sv-SE", [("technology", 0.6), ("finance", 0.55)], _demo("25-34", "m", "SE", "high"),
          wins="technology", tier="mid"),
    _user(13, "en-IE", [("music", 0.55), ("gaming", 0.52)], _demo("18-24", "f", "IE", "low"),
          wins="music", tier="mid"),
    # base: s < 0.5
    _user(14, "pl-PL", [("travel", 0.49), ("food", 0.3)], _demo("35-44", "m", "PL", "medium"),
          wins="travel", tier="base", note="just below the 0.5 boundary"),
    _user(15, "ko-KR", [("gaming", 0.3)], _demo("18-24", "m", "KR", "low"),
          wins="gaming", tier="base"),
    _user(16, "zh-CN", [("fashion", 0.1), ("sports", 0.05)], _demo("25-34", "f", "CN", "medium"),
          wins="fashion", tier="base"),
    _user(17, "en-IN", [("finance", 0.0)], _demo("45-54", "m", "IN", "medium"),
          wins="finance", tier="base", note="a zero score"),
    _user(18, "en-US", [], _demo("55-64", "f", "US", "medium"),
          wins=None, tier="base", note="no interests"),
    # ordering rules
    _user(19, "de-AT", [("fitness", 0.8), ("automotive", 0.8)], _demo("25-34", "m", "AT", "high"),
          wins="fitness", tier="standard", note="tie: the first listed wins"),
    _user(20, "en-NZ", [("food", 0.4), ("technology", 0.93)], _demo("35-44", "f", "NZ", "high"),
          wins="technology", tier="premium", note="the highest score is not listed first"),
)  # fmt: skip

DEMO_PROFILES: tuple[Profile, ...] = tuple(user.profile for user in DEMO_USERS)
DEMO_BY_ID: dict[str, DemoUser] = {user.profile.user_id: user for user in DEMO_USERS}

_LOCALES = ("en-US", "en-GB", "de-DE", "fr-FR", "es-ES", "ja-JP", "pt-BR", "it-IT")
_AGES = ("18-24", "25-34", "35-44", "45-54", "55-64", "65+")
_GENDERS = ("f", "m", "x")
_INCOMES = ("low", "medium", "high")


def synthetic_user_id(number: int) -> str:
    return f"{SYNTHETIC_PREFIX}{number:06d}"


def synthetic_profile(number: int, *, seed: int = SYNTHETIC_SEED) -> Profile:
    """Synthetic user `number` (1-based): the same profile for the same (number, seed), whatever
    else is generated (each user has its own RNG)."""
    rng = random.Random(f"{seed}:{number}")
    categories = rng.sample(CATEGORIES, k=rng.randint(0, 4))
    locale = rng.choice(_LOCALES)
    return Profile(
        user_id=synthetic_user_id(number),
        locale=locale,
        interests=[Interest(category=category, score=round(rng.random(), 3)) for category in categories],
        demographics={
            "age_range": rng.choice(_AGES),
            "gender": rng.choice(_GENDERS),
            "country": locale[-2:],
            "income": rng.choice(_INCOMES),
        },
    )


def synthetic_profiles(count: int, *, seed: int = SYNTHETIC_SEED, first: int = 1) -> Iterator[Profile]:
    """`count` synthetic users numbered from `first` (`synth-000001` ... by default), lazily."""
    for number in range(first, first + count):
        yield synthetic_profile(number, seed=seed)
