"""Slow and oversized clients against the real handler process (uvicorn + the intake app).

Slowloris: connections that send nothing, or their headers or body a byte at a time, must not keep
a connection forever, and must not stop other clients from being served meanwhile. An oversized
body sent with chunked transfer encoding (no Content-Length) is refused with 413 as soon as it
passes the limit, and the server stops reading it.
"""

import json
import select
import socket
import time
import urllib.error
import urllib.request

import pytest

from tests.e2e.harness import Platform, http_get, make_bids, post_all
from tests.e2e.test_pipeline import redis_url

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

READ_TIMEOUT_S = 2
MAX_BODY_BYTES = 64 * 1024
CLOSE_WITHIN_S = 30  # a liveness bound for "eventually closed", not a timing assertion


@pytest.fixture
def handler(topic_prefix, tmp_path):
    with Platform(
        tmp_path,
        topic_prefix,
        redis_url(),
        HELIOS_READ_TIMEOUT_S=str(READ_TIMEOUT_S),
        HELIOS_MAX_BODY_BYTES=str(MAX_BODY_BYTES),
    ) as pf:
        pf.start("handler")
        yield pf


class SlowClient:
    """A connection that sends `head`, then `drip` one byte per tick, forever (or until closed)."""

    def __init__(self, port: int, head: bytes, drip: bytes) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port))
        self.sock.setblocking(False)
        self.drip = drip
        self.sent = 0
        self.answer = b""
        self.closed = False
        if head:
            self.sock.sendall(head)

    def tick(self) -> None:
        if self.closed:
            return
        try:
            if self.drip:
                self.sock.send(self.drip[self.sent % len(self.drip) : self.sent % len(self.drip) + 1])
                self.sent += 1
            while select.select([self.sock], [], [], 0)[0]:
                data = self.sock.recv(65536)
                if not data:
                    self.closed = True
                    break
                self.answer += data
        except (BrokenPipeError, ConnectionResetError):
            self.closed = True

    def close(self) -> None:
        self.sock.close()


def test_slowloris_connections_are_closed_and_do_not_block_other_clients(handler):
    port = handler.handler_port
    slow = [
        # Connects and sends nothing.
        *(SlowClient(port, b"", b"") for _ in range(5)),
        # Headers that never end, a byte at a time.
        *(SlowClient(port, b"POST /bid HTTP/1.1\r\nHost: x\r\n", b"X-Slow: aaaaaaaa\r\n") for _ in range(10)),
        # Complete headers, then a body that trickles in.
        *(
            SlowClient(
                port,
                b"POST /bid HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 5000\r\n\r\n{",
                b' "a": 1,',
            )
            for _ in range(10)
        ),
    ]
    try:
        started = time.monotonic()
        served_meanwhile = False
        while not all(c.closed for c in slow) and time.monotonic() - started < CLOSE_WITHIN_S:
            for client in slow:
                client.tick()
            if not served_meanwhile:
                # Other clients are served while the slow ones hold their connections.
                sent = post_all(port, make_bids(20, seed=31), threads=2)
                assert {s.status for s in sent} == {202}
                assert http_get(port, "/healthz")[0] == 200
                served_meanwhile = True
            time.sleep(0.25)
        open_ones = [i for i, c in enumerate(slow) if not c.closed]
        assert not open_ones, f"connections {open_ones} still open after {CLOSE_WITHIN_S} s"
        # A slow body is answered 408 before the connection is closed; a slow head just closed.
        for client in slow[15:]:
            assert client.answer.startswith(b"HTTP/1.1 408 "), client.answer[:200]
            assert json.loads(client.answer.split(b"\r\n\r\n", 1)[1]) == {"error": "request_timeout"}
        assert all(client.answer == b"" for client in slow[:15])
    finally:
        for client in slow:
            client.close()
    assert post_all(port, make_bids(5, seed=32))[0].status == 202  # still serving


def test_chunked_body_over_the_limit_is_refused_and_not_read(handler):
    port = handler.handler_port
    sock = socket.create_connection(("127.0.0.1", port), timeout=10)
    sock.sendall(
        b"POST /bid HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
    )
    chunk = b"x" * 8192
    sent = 0
    answer = b""
    try:
        # Up to 64 MiB: the server must answer and close long before.
        while sent < 64 * 1024 * 1024:
            sock.sendall(b"%x\r\n%s\r\n" % (len(chunk), chunk))
            sent += len(chunk)
            if select.select([sock], [], [], 0)[0]:
                answer = sock.recv(65536)
                break
    except (BrokenPipeError, ConnectionResetError):
        pass
    if not answer:
        sock.settimeout(10)
        answer = sock.recv(65536)
    assert answer.startswith(b"HTTP/1.1 413 "), answer[:200]
    # Answered while the client was still sending (what was sent beyond the limit sits in socket
    # buffers, a few MiB at most on loopback).
    assert sent < 64 * 1024 * 1024
    # Then the connection is closed: the rest of the body is not read.
    sock.settimeout(10)
    try:
        while sock.recv(65536):
            pass
    except ConnectionResetError:
        pass
    sock.close()
    with urllib.request.urlopen(f"http://127.0.0.1:{handler.ports['handler']}/metrics", timeout=5) as response:
        assert 'bid_requests_total{status="413"} 1.0' in response.read().decode()


def test_connections_past_the_limit_get_503_with_retry_after_then_service_resumes(topic_prefix, tmp_path):
    limit = 4
    with Platform(tmp_path, topic_prefix, redis_url(), HELIOS_HANDLER_LIMIT_CONCURRENCY=str(limit)) as pf:
        pf.start("handler")
        idle = [socket.create_connection(("127.0.0.1", pf.handler_port)) for _ in range(limit)]
        try:
            request = urllib.request.Request(
                f"http://127.0.0.1:{pf.handler_port}/bid",
                data=json.dumps(make_bids(1, seed=11)[0]).encode(),
                headers={"Content-Type": "application/json"},
            )
            with pytest.raises(urllib.error.HTTPError) as refused:
                urllib.request.urlopen(request, timeout=10)
            assert refused.value.code == 503
            assert refused.value.headers["Retry-After"] == "1"
            assert json.loads(refused.value.read()) == {"error": "overloaded"}
            assert 'bid_requests_total{status="503"} 1.0' in pf.metrics("handler")
        finally:
            for sock in idle:
                sock.close()
        assert {s.status for s in post_all(pf.handler_port, make_bids(3, seed=12), threads=1)} == {202}
