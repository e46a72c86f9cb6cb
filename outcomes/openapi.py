"""The REST API's OpenAPI helpers (drf-spectacular): the schema class, the error responses the
operations share, and the query parameters of the FilterSets (kept in step with them by a test)."""

from typing import Any

from drf_spectacular.openapi import AutoSchema
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse

from outcomes import filters


class ApiSchema(AutoSchema):
    """Documents that an empty query value (`?min_price=`, as HTML forms send) means "not set",
    as django-filter and the paginator treat it."""

    def get_operation(self, *args: Any, **kwargs: Any) -> dict[str, Any] | None:
        operation = super().get_operation(*args, **kwargs)
        for parameter in (operation or {}).get("parameters", []):
            if parameter["in"] == "query" and not parameter.get("required"):
                parameter["allowEmptyValue"] = True
        return operation


_DETAIL_SCHEMA = {"type": "object", "properties": {"detail": {"type": "string"}}, "required": ["detail"]}
ERRORS = {
    400: OpenApiResponse(
        {
            "type": "object",
            "additionalProperties": {"type": "array", "items": {"type": "string"}},
            "description": "Each bad query parameter with its messages.",
        },
        description="A query parameter has a bad value.",
    ),
    401: OpenApiResponse(_DETAIL_SCHEMA, description="No valid credentials (unless HELIOS_PUBLIC_API)."),
    403: OpenApiResponse(_DETAIL_SCHEMA, description="Not allowed."),
    429: OpenApiResponse(_DETAIL_SCHEMA, description="Too many requests (HELIOS_API_THROTTLE_*); see Retry-After."),
    503: OpenApiResponse(
        _DETAIL_SCHEMA,
        description="A database statement ran past HELIOS_API_STATEMENT_TIMEOUT_MS and was cancelled; narrow the set.",
    ),
}
NOT_FOUND = {404: OpenApiResponse(_DETAIL_SCHEMA, description="No such outcome or page.")}
_TEXT_PATTERN = "^[^\\u0000]*$"  # PostgreSQL text cannot hold NUL: such a value is a 400


def _filter_schema(filter_: Any) -> dict[str, Any]:
    if isinstance(filter_, filters.StrictBooleanFilter):
        return {"type": "boolean"}
    if isinstance(filter_, filters.AmountFilter):
        return {"type": "number", "minimum": 0, "maximum": int(filters.MAX_AMOUNT)}
    if isinstance(filter_, filters.IntegerFilter):
        field = filter_.field
        return {"type": "integer", "minimum": field.min_value, "maximum": field.max_value}
    if isinstance(filter_, filters.SourceFilter):
        return {"type": "string", "enum": list(filters.SOURCES)}
    if isinstance(filter_, filters.StatusFilter):
        return {"type": "string", "enum": list(filters.STATUSES)}
    if isinstance(filter_, filters.TimestampFilter):
        return {"type": "string", "format": "date-time"}
    if isinstance(filter_, filters.OutcomeOrderingFilter):
        choices = [value for value, _ in filter_.extra["choices"]]
        return {"type": "array", "items": {"type": "string", "enum": choices}}
    return {"type": "string", "maxLength": filters.MAX_TEXT_CHARS, "pattern": _TEXT_PATTERN}


def filter_parameters(filterset: type[filters.OutcomeFilter]) -> list[OpenApiParameter]:
    """The query parameters `filterset` accepts, as OpenAPI parameters (kept in step by a test)."""
    parameters = []
    for name, filter_ in filterset.base_filters.items():
        csv = isinstance(filter_, filters.OutcomeOrderingFilter)
        parameters.append(
            OpenApiParameter(
                name=name,
                type=_filter_schema(filter_),
                location=OpenApiParameter.QUERY,
                description=str(filter_.extra.get("help_text", "")),
                style="form" if csv else None,
                explode=False if csv else None,
            )
        )
    return parameters
