"""A time limit on the REST API's database statements (PostgreSQL `statement_timeout`).

However a client combines filters, no filtered API request holds a database backend longer
than `settings.HELIOS_API_STATEMENT_TIMEOUT_MS` per statement (0: no limit; `apis.ApiView` sets it
once the request's filters are known to narrow the set): a statement cancelled by
the server is answered 503 with the reason (`QueryTooSlow`), never a 500 and never a hang. The
limit is set for the request's session and reset afterwards, so the roles' writes that share a
persistent connection (embedded mode) are not limited. SQLite (embedded mode) has no statement
timeout: there the limit does not apply."""

from django.conf import settings
from django.db import DatabaseError, connection
from rest_framework import status
from rest_framework.exceptions import APIException

QUERY_CANCELED = "57014"  # PostgreSQL's SQLSTATE of a statement cancelled by statement_timeout


class QueryTooSlow(APIException):
    status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    default_code = "query_timeout"

    def __init__(self) -> None:
        super().__init__(
            f"The query took longer than {settings.HELIOS_API_STATEMENT_TIMEOUT_MS} ms "
            "(HELIOS_API_STATEMENT_TIMEOUT_MS) and was cancelled: narrow the set "
            "(site_domain, user_id, since/until) or search for a longer term."
        )


def _limited() -> bool:
    return connection.vendor == "postgresql" and settings.HELIOS_API_STATEMENT_TIMEOUT_MS > 0


def limit_statements() -> bool:
    """Limit the statements that follow on this connection (until `unlimit_statements`); whether
    a limit was set."""
    if not _limited():
        return False
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT set_config('statement_timeout', %s, false)", [f"{settings.HELIOS_API_STATEMENT_TIMEOUT_MS}ms"]
        )
    return True


def unlimit_statements() -> None:
    if connection.connection is None:
        return  # closed: the setting went with the session
    try:
        with connection.cursor() as cursor:
            cursor.execute("RESET statement_timeout")
    except DatabaseError:
        pass  # an aborted transaction (tests): its rollback undoes the setting too


def is_timeout(exc: BaseException) -> bool:
    """Whether `exc` is a statement cancelled by the server (psycopg 2 or 3)."""
    cause = exc.__cause__
    code = getattr(cause, "pgcode", None) or getattr(cause, "sqlstate", None)
    return isinstance(exc, DatabaseError) and code == QUERY_CANCELED
