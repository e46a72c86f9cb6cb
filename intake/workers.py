"""Handler worker processes sharing one port (HELIOS_HANDLER_WORKERS, SO_REUSEPORT).

A handler is one Python process, so one core at most. With N workers, `manage.py runkafka handler`
starts N-1 more copies of itself; each binds the same host:port with SO_REUSEPORT (the kernel
spreads new connections among them) and has its own Kafka producer, campaign index and metrics
side server (on HELIOS_HANDLER_METRICS_PORT + i). The first process owns the others: it stops them
on SIGTERM, and they exit by themselves if it dies (the kernel's parent-death signal).
"""

import contextlib
import ctypes
import logging
import os
import signal
import subprocess
import sys

logger = logging.getLogger(__name__)

PR_SET_PDEATHSIG = 1


def _die_with_parent() -> None:  # pragma: no cover - runs in the child between fork and exec
    with contextlib.suppress(OSError):  # not Linux: the parent's SIGTERM still stops them
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


def start_workers(count: int, metrics_port: int) -> list[subprocess.Popen[bytes]]:
    """`count` more handler processes: this command again, as single workers on a shared port."""
    workers = []
    for index in range(1, count + 1):
        env = {
            **os.environ,
            "HELIOS_HANDLER_WORKERS": "1",
            "HELIOS_HANDLER_REUSE_PORT": "true",
            "HELIOS_HANDLER_METRICS_PORT": str(metrics_port + index if metrics_port else 0),
        }
        # This very command line (manage.py runkafka handler), run again: not input from outside.
        workers.append(subprocess.Popen([sys.executable, *sys.argv], env=env, preexec_fn=_die_with_parent))  # noqa: S603
    logger.info("handler started %d more worker processes: %s", count, [w.pid for w in workers])
    return workers


def stop_workers(workers: list[subprocess.Popen[bytes]], timeout_s: float) -> None:
    for worker in workers:
        if worker.poll() is None:
            worker.send_signal(signal.SIGTERM)
    for worker in workers:
        try:
            code = worker.wait(timeout_s)
        except subprocess.TimeoutExpired:
            worker.kill()
            code = worker.wait(10)
        if code != 0:
            logger.warning("handler worker %d exited with %s", worker.pid, code)
