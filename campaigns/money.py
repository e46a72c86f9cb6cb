"""Money as integer micros of USD (SPEC §13): exact sums, no float drift; decimals only at the edges.

`MicrosField` is a BigIntegerField holding micros whose admin form field shows and takes USD
decimals (e.g. "12.50"); the API does the same conversion in `campaigns.apis`.
"""

from decimal import Decimal, InvalidOperation
from typing import Any

from django import forms
from django.core.exceptions import ValidationError
from django.db import models

MICROS_PER_USD = 1_000_000
USD_DECIMAL_PLACES = 6  # one micro
MAX_USD = Decimal("1000000000")  # a billion dollars: beyond any campaign, far inside a bigint of micros


def usd_to_micros(value: Decimal | int | str) -> int:
    """`Decimal("1.25")` -> 1_250_000. Raises ValueError below one micro of precision or when not finite."""
    try:
        amount = Decimal(value)
    except (InvalidOperation, TypeError) as exc:
        raise ValueError(f"not a number: {value!r}") from exc
    if not amount.is_finite():
        raise ValueError(f"not a finite number: {value!r}")
    micros = amount * MICROS_PER_USD
    if micros != micros.to_integral_value():
        raise ValueError(f"at most {USD_DECIMAL_PLACES} decimal places: {value!r}")
    return int(micros)


def micros_to_usd(micros: int) -> Decimal:
    """1_250_000 -> Decimal("1.25") (normalized: no trailing zeros beyond the cents)."""
    amount = Decimal(micros) / MICROS_PER_USD
    return amount.quantize(Decimal("0.01")) if amount == amount.quantize(Decimal("0.01")) else amount.normalize()


class MicrosFormField(forms.DecimalField):
    """Shows micros as USD and cleans USD back into micros."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("max_digits", 16)
        kwargs.setdefault("decimal_places", USD_DECIMAL_PLACES)
        kwargs.setdefault("min_value", Decimal(0))
        kwargs.setdefault("max_value", MAX_USD)
        kwargs.pop("max_length", None)
        super().__init__(**kwargs)

    def prepare_value(self, value: Any) -> Any:
        return micros_to_usd(value) if isinstance(value, int) else value

    def clean(self, value: Any) -> int | None:
        amount = super().clean(value)
        return None if amount is None else usd_to_micros(amount)

    def has_changed(self, initial: Any, data: Any) -> bool:
        try:
            return self.clean(data) != initial
        except ValidationError:
            return True


class MicrosField(models.BigIntegerField):
    """An amount of USD in integer micros (1 USD = 1_000_000)."""

    def formfield(self, form_class: Any = None, choices_form_class: Any = None, **kwargs: Any) -> Any:
        return super().formfield(
            form_class=form_class or MicrosFormField, choices_form_class=choices_form_class, **kwargs
        )
