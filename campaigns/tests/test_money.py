"""Money conversions: USD decimals at the edges, integer micros inside."""

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from campaigns.money import MicrosFormField, micros_to_usd, usd_to_micros


@pytest.mark.parametrize(
    ("usd", "micros"),
    [
        ("0", 0),
        ("0.000001", 1),
        ("1.25", 1_250_000),
        ("2.5", 2_500_000),
        ("1000000", 10**12),
        (Decimal("0.35"), 350_000),
    ],
)
def test_usd_to_micros(usd: str, micros: int) -> None:
    assert usd_to_micros(usd) == micros


@pytest.mark.parametrize("bad", ["0.0000001", "abc", "NaN", "Infinity", None])
def test_usd_to_micros_refuses_what_is_not_exact(bad: object) -> None:
    with pytest.raises(ValueError):
        usd_to_micros(bad)  # type: ignore[arg-type]


@given(st.integers(min_value=0, max_value=10**15))
def test_micros_round_trip(micros: int) -> None:
    assert usd_to_micros(micros_to_usd(micros)) == micros


def test_micros_show_as_plain_decimals() -> None:
    assert str(micros_to_usd(50_000_000)) == "50.00"
    assert str(micros_to_usd(2_345_600)) == "2.3456"
    assert str(micros_to_usd(1)) == "0.000001"


def test_form_field_shows_usd_and_cleans_to_micros() -> None:
    field = MicrosFormField(required=False)
    assert field.prepare_value(12_500_000) == Decimal("12.50")
    assert field.clean("12.5") == 12_500_000
    assert field.clean("") is None
    assert not field.has_changed(12_500_000, "12.50")
    assert field.has_changed(12_500_000, "13")
