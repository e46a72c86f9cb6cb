"""The rules a campaign or creative must satisfy (SPEC §13), pure: plain values in, errors out.

Each function returns `{field: [message, ...]}` (empty when valid) keyed by the model's field
names; `Campaign.clean()`/`Creative.clean()` raise them for the admin and the services, and the
API answers them as a 400 (with its own field names for money).
"""

import re
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from campaigns.iab import IAB_DISPLAY_SIZES, MAX_NATIVE_SIDE_PX, MAX_VIDEO_SIZE, is_content_category

Errors = dict[str, list[str]]

MAX_LIST_ITEMS = 1000  # targeting lists; longer ones belong in a segment service, not a campaign row
DEVICE_TYPES = range(1, 9)  # OpenRTB 2.6 / AdCOM DeviceType 1..8
_DOMAIN = re.compile(r"^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$")
_BUNDLE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,199}$")  # com.example.app or a numeric store id
_COUNTRY = re.compile(r"^[A-Z]{3}$")  # ISO 3166-1 alpha-3, as OpenRTB's geo.country
_INTEREST = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")


def _add(errors: Errors, field: str, message: str) -> None:
    errors.setdefault(field, []).append(message)


def _check_list(errors: Errors, field: str, values: Any, check: Any, what: str) -> None:
    if not isinstance(values, list):
        _add(errors, field, "must be a list")
        return
    if len(values) > MAX_LIST_ITEMS:
        _add(errors, field, f"at most {MAX_LIST_ITEMS} entries")
    bad = [v for v in values if not check(v)]
    if bad:
        _add(errors, field, f"not {what}: {', '.join(map(str, bad[:5]))}")
    if len(set(map(str, values))) != len(values):
        _add(errors, field, "has duplicates")


def _str_matches(pattern: re.Pattern[str]) -> Any:
    return lambda v: isinstance(v, str) and bool(pattern.match(v))


def _int_in(allowed: Iterable[int]) -> Any:
    allowed = set(allowed)
    return lambda v: isinstance(v, int) and not isinstance(v, bool) and v in allowed


def campaign_errors(values: Mapping[str, Any]) -> Errors:
    """Errors in a campaign's field values (model field names; money in micros)."""
    errors: Errors = {}
    _check_dates(errors, values.get("start_at"), values.get("end_at"))
    _check_budgets(errors, values)
    _check_strategy(errors, values)
    _check_list(errors, "cat", values.get("cat", []), is_content_category, "IAB content category codes (e.g. IAB19-6)")
    for field in ("site_domains_include", "site_domains_exclude"):
        _check_list(errors, field, values.get(field, []), _str_matches(_DOMAIN), "lower-case domain names")
    for field in ("app_bundles_include", "app_bundles_exclude"):
        _check_list(errors, field, values.get(field, []), _str_matches(_BUNDLE), "app bundle ids")
    _check_list(
        errors,
        "interest_categories",
        values.get("interest_categories", []),
        _str_matches(_INTEREST),
        "interest category names",
    )
    _check_list(
        errors, "countries", values.get("countries", []), _str_matches(_COUNTRY), "ISO 3166-1 alpha-3 codes (e.g. USA)"
    )
    _check_list(
        errors, "device_types", values.get("device_types", []), _int_in(DEVICE_TYPES), "OpenRTB device types 1-8"
    )
    _check_list(errors, "hours_utc", values.get("hours_utc", []), _int_in(range(24)), "hours 0-23")
    score = values.get("min_interest_score") or 0.0
    if not 0.0 <= score <= 1.0:
        _add(errors, "min_interest_score", "must be between 0 and 1")
    _check_frequency(errors, values.get("frequency_cap"), values.get("frequency_window_s"))
    return errors


def _check_dates(errors: Errors, start: datetime | None, end: datetime | None) -> None:
    if start is not None and end is not None and end <= start:
        _add(errors, "end_at", "must be after the start")


def _check_budgets(errors: Errors, values: Mapping[str, Any]) -> None:
    for field in ("total_budget_micros", "daily_budget_micros", "fixed_cpm_micros", "max_cpm_micros"):
        amount = values.get(field)
        if amount is not None and amount < 0:
            _add(errors, field, "must not be negative")
    total, daily = values.get("total_budget_micros"), values.get("daily_budget_micros")
    if total is not None and daily is not None and daily > total:
        _add(errors, "daily_budget_micros", "must not exceed the total budget")
    if values.get("pacing") == "even" and daily is None:
        _add(errors, "pacing", "even pacing spreads a daily budget: set one")


def _check_strategy(errors: Errors, values: Mapping[str, Any]) -> None:
    strategy, fixed, max_cpm = values.get("strategy"), values.get("fixed_cpm_micros"), values.get("max_cpm_micros")
    if strategy == "fixed" and not fixed:
        _add(errors, "fixed_cpm_micros", "a fixed strategy needs a CPM above 0")
    if strategy == "fixed" and fixed and max_cpm is not None and fixed > max_cpm:
        _add(errors, "fixed_cpm_micros", "must not exceed the max CPM")
    if strategy == "interest_tiers" and not (values.get("tier_multiplier") or 0) > 0:
        _add(errors, "tier_multiplier", "must be above 0")
    if max_cpm == 0:
        _add(errors, "max_cpm_micros", "must be above 0 (leave it empty for no cap)")


def _check_frequency(errors: Errors, cap: int | None, window_s: int | None) -> None:
    if (cap is None) != (window_s is None):
        _add(errors, "frequency_cap", "set both the cap and its window, or neither")
    if cap is not None and cap < 1:
        _add(errors, "frequency_cap", "must be at least 1")
    if window_s is not None and window_s < 1:
        _add(errors, "frequency_window_s", "must be at least 1 second")


def creative_errors(values: Mapping[str, Any]) -> Errors:
    """Errors in a creative's field values: its size for its media type, and something to show."""
    errors: Errors = {}
    media, w, h = values.get("media"), values.get("w"), values.get("h")
    if (w is None) != (h is None):
        _add(errors, "w", "set both w and h, or neither")
    elif media == "banner":
        if w is None or (w, h) not in IAB_DISPLAY_SIZES:
            sizes = ", ".join(f"{a}x{b}" for a, b in sorted(IAB_DISPLAY_SIZES))
            _add(errors, "w", f"a banner must have an IAB standard size ({sizes}); got {w}x{h}")
    elif media == "video":
        if w is None or max(w, h) > max(MAX_VIDEO_SIZE) or min(w, h) > min(MAX_VIDEO_SIZE) or min(w, h) < 1:
            _add(errors, "w", f"a video needs w and h within {MAX_VIDEO_SIZE[0]}x{MAX_VIDEO_SIZE[1]}; got {w}x{h}")
    elif media == "audio" and w is not None:
        _add(errors, "w", "an audio creative has no size")
    elif media == "native" and w is not None and not (min(w, h) >= 1 and max(w, h) <= MAX_NATIVE_SIDE_PX):
        _add(errors, "w", f"a native image hint must be within {MAX_NATIVE_SIDE_PX}px a side")
    markup, image_url, landing_url = values.get("markup"), values.get("image_url"), values.get("landing_url")
    if not markup and not image_url:
        _add(errors, "markup", "give a markup template, or an image URL and a landing URL")
    if image_url and media != "banner":
        _add(errors, "image_url", "an image creative is a banner; other media need markup")
    if image_url and not landing_url:
        _add(errors, "landing_url", "an image creative needs a landing URL")
    interest = values.get("interest_category") or ""
    if interest and not _INTEREST.match(interest):
        _add(errors, "interest_category", "not an interest category name")
    return errors
