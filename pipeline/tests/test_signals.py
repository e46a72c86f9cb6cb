"""A role's SIGTERM/SIGINT handler stops it once, however many signals come (a second signal inside
the first handler's `Event.set` deadlocked a handler worker)."""

import os
import signal

from pipeline.runner import install_signal_handlers


def test_repeated_signals_call_stop_once() -> None:
    saved = signal.getsignal(signal.SIGTERM), signal.getsignal(signal.SIGINT)
    calls: list[int] = []

    def stop() -> None:
        calls.append(1)
        os.kill(os.getpid(), signal.SIGTERM)  # a second signal while the first one is handled

    try:
        install_signal_handlers(stop)
        os.kill(os.getpid(), signal.SIGTERM)
        os.kill(os.getpid(), signal.SIGINT)
    finally:
        signal.signal(signal.SIGTERM, saved[0])
        signal.signal(signal.SIGINT, saved[1])
    assert calls == [1]
