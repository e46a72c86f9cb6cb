"""Pagination and OpenAPI documentation of the campaigns API (kept beside `campaigns/apis.py`)."""

from typing import Any

from drf_spectacular.openapi import AutoSchema
from drf_spectacular.utils import OpenApiParameter
from rest_framework.exceptions import ValidationError
from rest_framework.pagination import PageNumberPagination
from rest_framework.request import Request

from campaigns import selectors


class Pagination(PageNumberPagination):
    """`page` (from 1; past the last: 404) and `page_size` (1..1000, default 100; else 400)."""

    page_size = 100
    page_size_query_param = "page_size"
    max_page_size = 1000

    def get_page_size(self, request: Request) -> int:
        raw = request.query_params.get(self.page_size_query_param, "")
        if raw == "":
            return self.page_size
        if not (raw.isascii() and raw.isdigit() and 1 <= int(raw) <= self.max_page_size):
            raise ValidationError({"page_size": [f"a whole number from 1 to {self.max_page_size}"]})
        return int(raw)

    def get_schema_operation_parameters(self, view: Any) -> list[dict[str, Any]]:
        parameters = super().get_schema_operation_parameters(view)
        for parameter in parameters:
            schema = parameter["schema"]
            schema["minimum"] = 1
            if parameter["name"] == self.page_size_query_param:
                schema["maximum"] = self.max_page_size
        return parameters


_ERROR_RESPONSES = {
    "400": "Bad values or filters: each field with its messages.",
    "401": "No valid credentials (reads: unless HELIOS_PUBLIC_API).",
    "403": "Not allowed: writes need the model's permission.",
    "404": "No such object, or page.",
}


_TEXT_PATTERN = "^[^\\u0000]*$"  # PostgreSQL text cannot hold NUL: such a value is a 400


def _filter_type(filter_: Any) -> dict[str, Any]:
    choices = filter_.extra.get("choices")
    if choices and not callable(choices):
        return {"type": "string", "enum": [value for value, _ in choices]}
    if isinstance(filter_, selectors.IdFilter):
        return {"type": "integer", "minimum": 1, "maximum": selectors.MAX_ID}
    return {"type": "string", "maxLength": filter_.extra.get("max_length", selectors.MAX_FILTER_CHARS),
            "pattern": _TEXT_PATTERN}  # fmt: skip


class CampaignsApiSchema(AutoSchema):
    """Documents the error answers and the selector's filters (applied there, not by a DRF backend)."""

    def get_override_parameters(self) -> list[Any]:
        filterset = getattr(self.view, "filterset", None)
        if filterset is None or self.method != "GET" or not self._is_list_view():
            return []
        return [
            OpenApiParameter(
                name, _filter_type(f), OpenApiParameter.QUERY, description=str(f.extra.get("help_text") or "")
            )
            for name, f in filterset.base_filters.items()
        ]

    def get_operation(self, *args: Any, **kwargs: Any) -> dict[str, Any] | None:
        operation = super().get_operation(*args, **kwargs)
        if operation is not None:
            for parameter in operation.get("parameters", []):
                if parameter["in"] == "path" and parameter["name"] == "id":  # anything else is a 404
                    parameter["schema"] = {"type": "integer", "minimum": 1, "maximum": selectors.MAX_ID}
                if parameter["in"] == "query":  # `?status=` (an empty form field) means "not set"
                    parameter["allowEmptyValue"] = True
            codes = dict(_ERROR_RESPONSES, **({"409": "Still in use."} if self.method == "DELETE" else {}))
            for code, text in codes.items():
                operation["responses"].setdefault(
                    code, {"description": text, "content": {"application/json": {"schema": {"type": "object"}}}}
                )
        return operation
