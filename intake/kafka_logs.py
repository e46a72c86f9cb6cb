"""librdkafka's own log lines, routed through Python logging (JSON on stdout) with repeats held back."""

import logging
import threading
import time

KAFKA_LOG_REPEAT_S = 30.0  # librdkafka repeats "connect failed" on every retry while a broker is down


class RepeatFilter(logging.Filter):
    """Lets one copy of each distinct message through per `window_s`: librdkafka's own logs (routed
    here so they come out as JSON) would otherwise flood stdout during a broker outage."""

    def __init__(self, window_s: float = KAFKA_LOG_REPEAT_S) -> None:
        super().__init__()
        self.window_s = window_s
        self._last: dict[str, float] = {}
        self._lock = threading.Lock()

    def filter(self, record: logging.LogRecord) -> bool:
        now = time.monotonic()
        text = record.getMessage()
        with self._lock:
            if now - self._last.get(text, -self.window_s) < self.window_s:
                return False
            if len(self._last) > 1000:  # bounded: forget everything once in a while
                self._last.clear()
            self._last[text] = now
        return True


kafka_logger = logging.getLogger("intake.kafka")
kafka_logger.addFilter(RepeatFilter())
