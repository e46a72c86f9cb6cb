"""User profiles in the Django admin (SPEC §4, §7): listed, searched, added, edited and deleted
where they live, in Redis (`helios:profile:<user_id>`), through the profiles services.

The admin is built around models, and profiles have none: `UserProfile` below is an unmanaged,
table-less placeholder that gives them their place under "Profiles", their URLs
(/admin/profiles/userprofile/...), permission names and history entries. Every view is
overridden to read and write Redis; none touches a `profiles_userprofile` table (there is none).
The placeholder lives here, not in a models module: profiles has no database state.

Access: a staff login (the admin site's own check), then the usual model permissions; superusers
have them all.
"""

import re
from dataclasses import dataclass
from typing import Any

import redis
from django.contrib import admin, messages
from django.contrib.admin.models import ADDITION, CHANGE, DELETION, LogEntry
from django.contrib.admin.utils import quote, unquote
from django.core.exceptions import PermissionDenied
from django.db import models
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import reverse

from pipeline.messages import MAX_ID_CHARS
from profiles.admin_forms import profile_forms, profile_from_forms
from profiles.selectors import profile_get, profile_get_many
from profiles.services import InvalidProfile, profile_delete, profile_save
from profiles.store import KEY_PREFIX, ProfileStore, profile_store
from profiles.types import CATEGORIES, Profile

PAGE_SIZE = 100  # about this many profiles a page (Redis SCAN pages are approximate)
SEARCH_SCAN_COUNT = 1000  # keys examined per SCAN call while searching
MAX_SCAN_CALLS = 200  # bounds one page's work when a rare search walks a huge keyspace
_GLOB_SPECIAL = re.compile(r"([*?\[\]\\])")


class UserProfile(models.Model):
    """Placeholder for the admin only: profiles are stored in Redis, never in this (absent) table."""

    user_id = models.CharField(max_length=MAX_ID_CHARS, primary_key=True)

    class Meta:
        managed = False
        app_label = "profiles"
        verbose_name = "user profile"

    def __str__(self) -> str:
        return self.user_id


@dataclass(frozen=True)
class ProfilePage:
    profiles: list[Profile]
    next_cursor: int  # the Redis SCAN cursor of the next page; 0 after the last page


def _user_id(key: bytes | str) -> str:
    text = key.decode() if isinstance(key, bytes) else key
    return text[len(KEY_PREFIX) :]


def profile_page(*, store: ProfileStore, cursor: int = 0, search: str = "") -> ProfilePage:
    """One page of profiles by SCAN (never KEYS: the store may hold millions), optionally those
    whose user id contains `search` (an exact match first, on the first page)."""
    match = KEY_PREFIX + ("*" + _GLOB_SPECIAL.sub(r"\\\1", search) + "*" if search else "*")
    first_page = cursor == 0
    ids: list[str] = []
    for _ in range(MAX_SCAN_CALLS):
        cursor, keys = store.client.scan(cursor=cursor, match=match, count=SEARCH_SCAN_COUNT if search else PAGE_SIZE)
        ids.extend(_user_id(key) for key in keys)
        if cursor == 0 or len(ids) >= PAGE_SIZE:
            break
    ordered = sorted(set(ids) - {search})
    if search and first_page:
        ordered.insert(0, search)  # dropped below if there is no such profile
    found = profile_get_many(user_ids=ordered, store=store)
    return ProfilePage([found[user_id] for user_id in ordered if user_id in found], int(cursor))


def _summary(profile: Profile) -> dict[str, Any]:
    return {
        "user_id": profile.user_id,
        "locale": profile.locale,
        "interests": ", ".join(f"{i.category} {i.score:.2f}" for i in profile.interests),
        "demographics": ", ".join(f"{k}={v}" for k, v in profile.demographics.items()),
    }


def _changes(old: Profile, new: Profile) -> str:
    changed = [name for name in ("locale", "interests", "demographics") if getattr(old, name) != getattr(new, name)]
    return f"Changed {', '.join(changed)}." if changed else "No fields changed."


@admin.register(UserProfile)
class UserProfileAdmin(admin.ModelAdmin):
    list_template = "admin/profiles/profile_list.html"
    form_template = "admin/profiles/profile_form.html"
    delete_template = "admin/profiles/profile_delete.html"

    # --- helpers ---

    def _url(self, view: str, user_id: str | None = None) -> str:
        name = f"admin:{self.opts.app_label}_{self.opts.model_name}_{view}"
        return reverse(name, args=[quote(user_id)] if user_id is not None else [])

    def _context(self, request: HttpRequest, title: str, **extra: Any) -> dict[str, Any]:
        return {**self.admin_site.each_context(request), "opts": self.opts, "title": title, **extra}

    def _log(self, request: HttpRequest, user_id: str, action: int, message: str = "") -> None:
        assert request.user.pk is not None  # the admin site lets staff in only
        LogEntry.objects.log_actions(
            user_id=request.user.pk,
            queryset=[UserProfile(user_id=user_id)],
            action_flag=action,
            change_message=message,
            single_object=True,
        )

    def _missing(self, request: HttpRequest, user_id: str) -> HttpResponse:
        messages.warning(request, f"There is no profile for user {user_id!r}. Perhaps it was deleted?")
        return HttpResponseRedirect(self._url("changelist"))

    def get_object(self, request: HttpRequest, object_id: str, from_field: str | None = None) -> UserProfile | None:
        """The placeholder of a stored profile (used by the stock history view), None if absent."""
        return UserProfile(user_id=object_id) if profile_get(user_id=object_id) is not None else None

    # --- views ---

    def changelist_view(self, request: HttpRequest, extra_context: dict[str, Any] | None = None) -> HttpResponse:
        if not self.has_view_or_change_permission(request):
            raise PermissionDenied
        search = request.GET.get("q", "").strip()
        cursor_text = request.GET.get("cursor", "0")
        cursor = int(cursor_text) if cursor_text.isdigit() else 0
        try:
            page = profile_page(store=profile_store(), cursor=cursor, search=search)
        except redis.RedisError as exc:
            messages.error(request, f"The profile store (Redis) is unavailable: {exc}")
            page = ProfilePage([], 0)
        rows = [{**_summary(p), "url": self._url("change", p.user_id)} for p in page.profiles]
        next_url = None
        if page.next_cursor:
            query = request.GET.copy()
            query["cursor"] = str(page.next_cursor)
            next_url = f"?{query.urlencode()}"
        context = self._context(
            request,
            "Select user profile to change",
            rows=rows,
            search=search,
            next_url=next_url,
            first_url=f"?{request.GET.copy().urlencode()}" if cursor else None,
            add_url=self._url("add") if self.has_add_permission(request) else None,
            **(extra_context or {}),
        )
        return TemplateResponse(request, self.list_template, context)

    def add_view(
        self, request: HttpRequest, form_url: str = "", extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        if not self.has_add_permission(request):
            raise PermissionDenied
        return self._edit(request, None, extra_context)

    def change_view(
        self, request: HttpRequest, object_id: str, form_url: str = "", extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        if not self.has_view_or_change_permission(request):
            raise PermissionDenied
        user_id = unquote(object_id)
        profile = profile_get(user_id=user_id)
        if profile is None:
            return self._missing(request, user_id)
        return self._edit(request, profile, extra_context)

    def _edit(
        self, request: HttpRequest, profile: Profile | None, extra_context: dict[str, Any] | None
    ) -> HttpResponse:
        adding = profile is None
        can_save = self.has_add_permission(request) if adding else self.has_change_permission(request)
        if request.method == "POST":
            if not can_save:
                raise PermissionDenied
            form, interests, demographics = profile_forms(request.POST, profile=profile)
            if form.is_valid() and interests.is_valid() and demographics.is_valid():
                new = profile_from_forms(form, interests, demographics)
                if adding and profile_get(user_id=new.user_id) is not None:
                    form.add_error("user_id", "A profile with this user id already exists.")
                else:
                    try:
                        profile_save(profile=new)
                    except InvalidProfile as exc:
                        form.add_error(None, str(exc))
                    else:
                        return self._saved(request, profile, new)
        else:
            form, interests, demographics = profile_forms(profile=profile)
        if not can_save:
            for field in form.fields.values():
                field.disabled = True
        title = "Add user profile" if adding else ("Change" if can_save else "View") + " user profile"
        context = self._context(
            request,
            title,
            form=form,
            interests=interests,
            demographics=demographics,
            profile=profile,
            adding=adding,
            can_save=can_save,
            can_delete=not adding and self.has_delete_permission(request),
            categories=CATEGORIES,
            changelist_url=self._url("changelist"),
            **(extra_context or {}),
        )
        if profile is not None:
            context["delete_url"] = self._url("delete", profile.user_id)
            context["history_url"] = self._url("history", profile.user_id)
        return TemplateResponse(request, self.form_template, context)

    def _saved(self, request: HttpRequest, old: Profile | None, new: Profile) -> HttpResponse:
        if old is None:
            self._log(request, new.user_id, ADDITION, '[{"added": {}}]')
            messages.success(request, f"The user profile {new.user_id!r} was added.")
        else:
            self._log(request, new.user_id, CHANGE, _changes(old, new))
            messages.success(request, f"The user profile {new.user_id!r} was changed.")
        if "_continue" in request.POST:
            return HttpResponseRedirect(self._url("change", new.user_id))
        return HttpResponseRedirect(self._url("changelist"))

    def delete_view(
        self, request: HttpRequest, object_id: str, extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        if not self.has_delete_permission(request):
            raise PermissionDenied
        user_id = unquote(object_id)
        if profile_get(user_id=user_id) is None:
            return self._missing(request, user_id)
        if request.method == "POST":
            profile_delete(user_id=user_id)
            self._log(request, user_id, DELETION)
            messages.success(request, f"The user profile {user_id!r} was deleted.")
            return HttpResponseRedirect(self._url("changelist"))
        context = self._context(
            request,
            "Are you sure?",
            user_id=user_id,
            change_url=self._url("change", user_id),
            changelist_url=self._url("changelist"),
            **(extra_context or {}),
        )
        return TemplateResponse(request, self.delete_template, context)
