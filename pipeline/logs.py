"""JSON logs to stdout: one object per line with timestamp, level, service, message and, where a
log call passes `extra={"request_id": ...}`, the request id (SPEC §9)."""

import json
import logging
import os
from collections.abc import Iterable
from datetime import UTC, datetime

SERVICE_ENV = "HELIOS_SERVICE"


def set_service(name: str) -> None:
    """Names the process in every log line; called once by each role's entry point."""
    os.environ[SERVICE_ENV] = name


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "timestamp": datetime.fromtimestamp(record.created, UTC)
            .isoformat(timespec="milliseconds")
            .replace("+00:00", "Z"),
            "level": record.levelname,
            "service": os.environ.get(SERVICE_ENV, "web"),
            "logger": record.name,
            "message": record.getMessage(),
        }
        request_id = getattr(record, "request_id", None)
        if request_id is not None:
            entry["request_id"] = request_id
        if record.exc_info:
            entry["exc_info"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str)


def log_requests(logger: logging.Logger, action: str, request_ids: Iterable[str]) -> None:
    """At DEBUG only, one line per request naming what this role did with it, so one bid can be
    followed through every role's logs by its request_id; INFO stays quiet per message."""
    if logger.isEnabledFor(logging.DEBUG):
        for request_id in request_ids:
            logger.debug(action, extra={"request_id": request_id})
