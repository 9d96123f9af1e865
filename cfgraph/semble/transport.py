"""An httpx transport whose answers are bounded in time and in size.

httpx's timeouts bound each network operation, not a whole request: a server
that sends its status line, its headers or its body one byte a second holds a
request for as long as it likes, and a small gzip body may inflate to gigabytes.
:class:`BoundedTransport` closes both holes at the root:

- **time**: one deadline per exchange (``seconds`` after it starts) bounds name
  resolution, connect, TLS, the request, the status line, the headers and the
  body, and every redirect followed inside :func:`exchange`. Every socket
  operation waits at most until the deadline (a network backend hands httpcore
  the time left), so the whole exchange ends within ``seconds`` plus the time
  of one socket call's return;
- **size**: a ``Content-Length`` above the cap is refused before the body is
  read; the body is streamed and counted, raw and after decompression (gzip
  and deflate are decoded here, a chunk of at most 64 KiB at a time), and
  refused once either count passes :data:`MAX_RESPONSE_BYTES`. Other encodings
  are not asked for (``Accept-Encoding: gzip, deflate``) and are refused.

Failures are raised as httpx exceptions (``httpx.ReadTimeout`` and friends,
:class:`ResponseRefused`), so httpx and the atproto SDK treat them as theirs.
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time
import zlib

import httpcore
import httpx

#: Largest answer read from a server, in bytes, counted both as received and after
#: decompression. A listRecords page of 100 Semble records is a few hundred KB at
#: most (a note is at most 10 KB), so 4 MiB is ample; past it the request fails.
MAX_RESPONSE_BYTES = 4 * 1024 * 1024
#: Decompressed bytes produced per step, so a gzip bomb never inflates at once.
DECODE_CHUNK = 64 * 1024
ACCEPT_ENCODING = "gzip, deflate"
_WBITS = {"gzip": zlib.MAX_WBITS | 16, "x-gzip": zlib.MAX_WBITS | 16, "deflate": zlib.MAX_WBITS | 32}

_local = threading.local()


class ResponseRefused(httpx.DecodingError):
    """An answer refused before or while it was read (too large, or an unknown encoding)."""


@contextlib.contextmanager
def _deadline(moment: float):
    """Socket operations in this thread wait no later than ``moment`` (time.monotonic)."""
    previous = getattr(_local, "deadline", None)
    _local.deadline = moment
    try:
        yield
    finally:
        _local.deadline = previous


@contextlib.contextmanager
def exchange(seconds: float):
    """Requests made inside share one deadline, ``seconds`` from now (redirects included).

    Outside, each request through a :class:`BoundedTransport` has its own.

    Examples
    --------
    >>> with exchange(5.0):
    ...     pass  # client.get(...): the request and every redirect it follows end within 5 s
    """
    previous = getattr(_local, "exchange", None)
    _local.exchange = time.monotonic() + seconds
    try:
        yield
    finally:
        _local.exchange = previous


def _time_left(timeout: float | None, error: type[Exception]) -> float | None:
    """The smaller of ``timeout`` and the time to the deadline; ``error`` once it has passed."""
    deadline = getattr(_local, "deadline", None)
    if deadline is None:
        return timeout
    left = deadline - time.monotonic()
    if left <= 0:
        raise error("the request's deadline has passed")
    return left if timeout is None else min(timeout, left)


class _DeadlineStream(httpcore.NetworkStream):
    """A socket stream whose reads and writes end by the current deadline."""

    def __init__(self, inner: httpcore.NetworkStream):
        self.inner = inner

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return self.inner.read(max_bytes, _time_left(timeout, httpcore.ReadTimeout))

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        self.inner.write(buffer, _time_left(timeout, httpcore.WriteTimeout))

    def close(self) -> None:
        self.inner.close()

    def start_tls(self, ssl_context, server_hostname=None, timeout=None) -> httpcore.NetworkStream:
        left = _time_left(timeout, httpcore.ConnectTimeout)
        return _DeadlineStream(self.inner.start_tls(ssl_context, server_hostname, left))

    def get_extra_info(self, info: str):
        return self.inner.get_extra_info(info)


class _DeadlineBackend(httpcore.NetworkBackend):
    """httpcore's socket backend, with name resolution and connect bounded by the deadline."""

    def __init__(self):
        self.inner = httpcore.SyncBackend()

    def connect_tcp(self, host, port, timeout=None, local_address=None, socket_options=None):
        left = _time_left(timeout, httpcore.ConnectTimeout)
        errors: list[OSError] = []
        for address in _resolve(host, port, left):
            try:
                stream = self.inner.connect_tcp(address, port, _time_left(timeout, httpcore.ConnectTimeout),
                                                local_address, socket_options)
            except httpcore.ConnectError as exc:
                errors.append(exc)
                continue
            return _DeadlineStream(stream)
        raise errors[-1] if errors else httpcore.ConnectError(f"{host} has no address")

    def connect_unix_socket(self, path, timeout=None, socket_options=None):  # pragma: no cover (no uds)
        return _DeadlineStream(self.inner.connect_unix_socket(path, timeout, socket_options))

    def sleep(self, seconds: float) -> None:  # pragma: no cover (retries are off)
        self.inner.sleep(seconds)


def _resolve(host: str, port: int, seconds: float | None) -> list[str]:
    """The addresses of ``host``, in getaddrinfo's order; a lookup past ``seconds`` times out.

    getaddrinfo cannot be interrupted, so it runs in a daemon thread that is
    abandoned (and ends on its own) if the deadline passes first.
    """
    found: dict[str, object] = {}

    def lookup():
        try:
            found["addresses"] = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except OSError as exc:
            found["error"] = exc

    worker = threading.Thread(target=lookup, name=f"resolve {host}", daemon=True)
    worker.start()
    worker.join(seconds)
    if worker.is_alive():
        raise httpcore.ConnectTimeout(f"resolving {host} took longer than the request's deadline")
    if "error" in found:
        raise httpcore.ConnectError(f"cannot resolve {host}: {found['error']}")
    return list(dict.fromkeys(info[4][0] for info in found["addresses"]))


class BoundedTransport(httpx.BaseTransport):
    """An httpx transport that bounds each request's time and its answer's size.

    Parameters
    ----------
    seconds : float
        Deadline of each request, from its start to the last byte of the body.
    max_bytes : int
        Largest body accepted, raw and decompressed.

    Examples
    --------
    >>> transport = BoundedTransport(5.0)
    >>> client = httpx.Client(transport=transport)  # what the client sends goes through it
    >>> transport.max_bytes == MAX_RESPONSE_BYTES
    True
    >>> client.close()
    """

    def __init__(self, seconds: float, max_bytes: int = MAX_RESPONSE_BYTES):
        self.seconds = seconds
        self.max_bytes = max_bytes
        self.transport = httpx.HTTPTransport()
        # httpx takes no network backend, so its pool is rebuilt with one (the same
        # settings as httpx's default pool, which is closed unused).
        pool = self.transport._pool
        self.transport._pool = httpcore.ConnectionPool(
            ssl_context=httpx.create_ssl_context(), max_connections=100, max_keepalive_connections=20,
            keepalive_expiry=5.0, network_backend=_DeadlineBackend())
        pool.close()

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        deadline = getattr(_local, "exchange", None) or time.monotonic() + self.seconds
        request.headers["Accept-Encoding"] = ACCEPT_ENCODING
        with _deadline(deadline):
            response = self.transport.handle_request(request)
        try:
            encoding = self._check_headers(response)
        except ResponseRefused:
            response.close()
            raise
        response.stream = _BoundedBody(response.stream, deadline, self.max_bytes, encoding, request)
        if encoding:  # decoded here: httpx must not decode again
            del response.headers["Content-Encoding"]
            response.headers.pop("Content-Length", None)
        return response

    def _check_headers(self, response: httpx.Response) -> str | None:
        """The Content-Encoding to decode (None for none); refuse a declared oversize body."""
        length = response.headers.get("Content-Length", "").strip()
        if length.isascii() and length.isdigit() and (len(length) > 18 or int(length) > self.max_bytes):
            raise ResponseRefused(f"answered {int(length):,} bytes, more than the {self.max_bytes:,} "
                                  f"accepted; refused")
        encoding = response.headers.get("Content-Encoding", "").strip().lower()
        if encoding in ("", "identity"):
            return None
        if encoding not in _WBITS:
            raise ResponseRefused(f"answered in an encoding it was not asked for "
                                  f"(Content-Encoding: {encoding[:40]!r}); refused")
        return encoding

    def close(self) -> None:
        self.transport.close()


class _BoundedBody(httpx.SyncByteStream):
    """A response body read by the deadline, counted, and decoded in bounded steps."""

    def __init__(self, stream, deadline: float, max_bytes: int, encoding: str | None, request: httpx.Request):
        self.stream, self.deadline, self.max_bytes = stream, deadline, max_bytes
        self.request = request
        self.decoder = zlib.decompressobj(_WBITS[encoding]) if encoding else None

    def _raw(self):
        chunks = iter(self.stream)
        received = 0
        while True:
            with _deadline(self.deadline):
                if time.monotonic() > self.deadline:
                    raise httpx.ReadTimeout("the answer took longer than the request's deadline",
                                            request=self.request)
                chunk = next(chunks, None)
            if chunk is None:
                return
            received += len(chunk)
            self._check(received, "")
            yield chunk

    def __iter__(self):
        if self.decoder is None:
            yield from self._raw()
            return
        decoded = 0
        try:
            for chunk in self._raw():
                while chunk:
                    out = self.decoder.decompress(chunk, DECODE_CHUNK)
                    decoded += len(out)
                    self._check(decoded, " once decompressed")
                    yield out
                    chunk = self.decoder.unconsumed_tail
            out = self.decoder.flush()
        except zlib.error as exc:
            raise httpx.DecodingError(f"sent a body that does not decompress: {exc}", request=self.request) from None
        self._check(decoded + len(out), " once decompressed")
        yield out

    def _check(self, count: int, how: str) -> None:
        if count > self.max_bytes:
            raise ResponseRefused(f"answered more than the {self.max_bytes:,} bytes accepted{how}; refused",
                                  request=self.request)

    def close(self) -> None:
        self.stream.close()
