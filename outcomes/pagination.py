"""The REST API's page-number pagination over an ordered queryset, and its OpenAPI description.

Deep pages are refused: `page x page_size` may reach at most `settings.HELIOS_API_MAX_RESULTS`
rows (default 10,000), because an OFFSET walks every row it skips (a page a million rows deep
reads a million rows). Past that, narrow the set (`since`/`until`, prices, ordering the other
way) instead of paging further."""

from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError as FormError
from django.db.models import QuerySet
from drf_spectacular.utils import OpenApiParameter, inline_serializer
from rest_framework import serializers
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.utils.urls import remove_query_param, replace_query_param

from outcomes import filters
from outcomes.models import AuctionOutcome

DEFAULT_PAGE_SIZE = 100
MAX_PAGE_SIZE = 1000
MAX_PAGE = 10**9  # a bound for the schema; HELIOS_API_MAX_RESULTS refuses deep pages long before


class OutcomePagination:
    """`page` (from 1) and `page_size` (1..1000, default 100) over an ordered queryset.

    `count` is exact without counting millions of rows on every page: a page that is not full
    gives it (offset + rows on the page); otherwise `count` comes from `count_fn` (the rollups for
    an unfiltered set, COUNT(*) for a filtered one). One extra row is fetched to know whether a
    next page exists, so `next` never depends on the count. A page past the last is a 404; a page
    reaching beyond HELIOS_API_MAX_RESULTS rows is a 404 too, saying so."""

    page_query_param = "page"
    page_size_query_param = "page_size"

    def __init__(self, request: Request, count_fn: Any) -> None:
        self.request = request
        self.count_fn = count_fn
        self.page, self.page_size = self._parse(request)
        self.count = 0
        self.has_next = False

    def _parse(self, request: Request) -> tuple[int, int]:
        fields = {
            self.page_query_param: filters.UnpaddedIntegerField(min_value=1, max_value=MAX_PAGE),
            self.page_size_query_param: filters.UnpaddedIntegerField(min_value=1, max_value=MAX_PAGE_SIZE),
        }
        values: dict[str, int | None] = {}
        errors: dict[str, list[str]] = {}
        for name, field in fields.items():
            raw = request.query_params.get(name, "")
            try:
                values[name] = field.clean(raw) if raw != "" else None
            except FormError as exc:
                errors[name] = list(exc.messages)
        if errors:
            raise ValidationError(errors)
        page, page_size = values[self.page_query_param] or 1, values[self.page_size_query_param] or DEFAULT_PAGE_SIZE
        limit = settings.HELIOS_API_MAX_RESULTS
        if page * page_size > limit:
            # DRF's answer to a page it cannot serve (as past the last page): a 404 naming why.
            raise NotFound(
                f"Invalid page: pages reach at most the first {limit} results (page x page_size <= {limit}); "
                "narrow the set with since/until or other filters instead of paging deeper."
            )
        return page, page_size

    def paginate_queryset(self, queryset: QuerySet[AuctionOutcome]) -> list[AuctionOutcome]:
        offset = (self.page - 1) * self.page_size
        rows = list(queryset[offset : offset + self.page_size + 1])
        self.has_next = len(rows) > self.page_size
        rows = rows[: self.page_size]
        if self.page > 1 and not rows:
            raise NotFound("Invalid page: past the last page.")
        if self.has_next:
            self.count = max(int(self.count_fn()), offset + len(rows) + 1)
        else:
            self.count = offset + len(rows)
        return rows

    def get_paginated_response(self, data: Any) -> Response:
        return Response(
            {"count": self.count, "next": self._next_link(), "previous": self._previous_link(), "results": data}
        )

    def _next_link(self) -> str | None:
        if not self.has_next:
            return None
        return replace_query_param(self.request.build_absolute_uri(), self.page_query_param, self.page + 1)

    def _previous_link(self) -> str | None:
        if self.page == 1:
            return None
        url = self.request.build_absolute_uri()
        if self.page == 2:
            return remove_query_param(url, self.page_query_param)
        return replace_query_param(url, self.page_query_param, self.page - 1)

    @staticmethod
    def envelope(name: str, item: type[serializers.Serializer[Any]]) -> serializers.Serializer[Any]:
        """The OpenAPI schema of a page of `item`s."""
        return inline_serializer(
            name,
            {
                "count": serializers.IntegerField(min_value=0),
                "next": serializers.URLField(allow_null=True),
                "previous": serializers.URLField(allow_null=True),
                "results": item(many=True),
            },
        )

    @staticmethod
    def schema_parameters() -> list[OpenApiParameter]:
        return [
            OpenApiParameter(
                "page",
                {"type": "integer", "minimum": 1, "maximum": MAX_PAGE},
                OpenApiParameter.QUERY,
                description=(
                    "Page number, from 1. A page past the last one is a 404, and so is a page reaching "
                    "beyond the first HELIOS_API_MAX_RESULTS results (page x page_size; default 10,000)."
                ),
            ),
            OpenApiParameter(
                "page_size",
                {"type": "integer", "minimum": 1, "maximum": MAX_PAGE_SIZE},
                OpenApiParameter.QUERY,
                description=f"Results per page (default {DEFAULT_PAGE_SIZE}, at most {MAX_PAGE_SIZE}).",
            ),
        ]
