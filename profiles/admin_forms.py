"""The admin's profile editor: a form for the profile, rows for its interests and demographics.

The forms check what a person can get wrong in a form; `profiles.services.profile_validate`
(called by `profile_save`) stays the one rule of what may be stored."""

from typing import Any, cast

from django import forms
from django.core.exceptions import ValidationError

from pipeline.messages import MAX_CATEGORY_CHARS, MAX_ID_CHARS
from profiles.types import Interest, Profile

MAX_LOCALE_CHARS = 35  # the longest BCP 47 tag in practical use
MAX_DEMOGRAPHIC_CHARS = 255
EXTRA_INTEREST_ROWS = 3
EXTRA_DEMOGRAPHIC_ROWS = 2


class ProfileForm(forms.Form):
    user_id = forms.CharField(max_length=MAX_ID_CHARS, strip=False)
    locale = forms.CharField(max_length=MAX_LOCALE_CHARS, required=False, help_text="e.g. en-US")

    def __init__(self, *args: Any, editing: bool = False, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if editing:  # the id is the Redis key: a profile is renamed by adding a new one
            self.fields["user_id"].disabled = True

    def clean_user_id(self) -> str:
        user_id: str = self.cleaned_data["user_id"]
        if user_id != user_id.strip():
            raise ValidationError("The user id must not start or end with whitespace.")
        return user_id


class InterestForm(forms.Form):
    category = forms.CharField(
        max_length=MAX_CATEGORY_CHARS,
        widget=forms.TextInput(attrs={"list": "profile-categories", "autocomplete": "off"}),
    )
    score = forms.FloatField(min_value=0.0, max_value=1.0, widget=forms.NumberInput(attrs={"step": "0.01"}))


class DemographicForm(forms.Form):
    key = forms.CharField(max_length=MAX_DEMOGRAPHIC_CHARS)
    value = forms.CharField(max_length=MAX_DEMOGRAPHIC_CHARS, required=False, strip=False)


class _UniqueRows(forms.BaseFormSet):
    """Rows whose `key_field` is unique; rows marked for deletion or left blank are ignored."""

    key_field = ""
    what = ""

    def clean(self) -> None:
        super().clean()
        if any(self.errors):
            return
        seen = set()
        for row in self.rows():
            key = row[self.key_field]
            if key in seen:
                raise ValidationError(f"{self.what} {key!r} is listed twice.")
            seen.add(key)

    def rows(self) -> list[dict[str, Any]]:
        return [
            form.cleaned_data
            for form in self.forms
            if form.cleaned_data and not form.cleaned_data.get("DELETE")  # blank extra rows have none
        ]


class _InterestRows(_UniqueRows):
    key_field = "category"
    what = "The category"


class _DemographicRows(_UniqueRows):
    key_field = "key"
    what = "The key"


InterestFormSet = forms.formset_factory(InterestForm, formset=_InterestRows, extra=EXTRA_INTEREST_ROWS, can_delete=True)
DemographicFormSet = forms.formset_factory(
    DemographicForm, formset=_DemographicRows, extra=EXTRA_DEMOGRAPHIC_ROWS, can_delete=True
)


def profile_forms(
    data: Any = None, *, profile: Profile | None = None
) -> tuple[ProfileForm, _InterestRows, _DemographicRows]:
    """The editor's form and row sets: bound to POST `data`, or showing `profile` (None: a new one)."""
    editing = profile is not None
    initial: dict[str, Any] = {}
    interests: list[dict[str, Any]] = []
    demographics: list[dict[str, Any]] = []
    if profile is not None:
        initial = {"user_id": profile.user_id, "locale": profile.locale}
        interests = [{"category": i.category, "score": i.score} for i in profile.interests]
        demographics = [{"key": k, "value": v} for k, v in profile.demographics.items()]
    return (
        ProfileForm(data, initial=initial, editing=editing),
        cast(_InterestRows, InterestFormSet(data, initial=interests, prefix="interests")),
        cast(_DemographicRows, DemographicFormSet(data, initial=demographics, prefix="demographics")),
    )


def profile_from_forms(form: ProfileForm, interests: _InterestRows, demographics: _DemographicRows) -> Profile:
    """The profile the valid forms describe, interests in row order (the first of equal scores wins)."""
    return Profile(
        user_id=form.cleaned_data["user_id"],
        locale=form.cleaned_data["locale"],
        interests=[Interest(category=row["category"], score=float(row["score"])) for row in interests.rows()],
        demographics={row["key"]: row["value"] for row in demographics.rows()},
    )
