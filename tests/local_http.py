"""A real HTTP/1.1 server on 127.0.0.1 for tests: routes filled in by the test, and a log.

The fetcher refuses loopback addresses unless ``[fetch] allowed_hosts`` names them, so a
test that fetches from these servers allows :data:`LOCAL_HOSTS` in its configuration (the
``config`` fixture of tests/conftest.py does; a test building its own ``FetchConfig``
passes ``allowed_hosts=LOCAL_HOSTS``). ``LocalHTTPServer(host="127.0.0.2")`` listens on
another loopback address, one that is not in LOCAL_HOSTS: a server the fetcher must not
reach.

It runs :class:`http.server.ThreadingHTTPServer` on an OS-assigned port in a daemon
thread, so code under test talks to it over real sockets exactly as it would to a web
site. The ``local_http`` fixture (tests/conftest.py) yields a started one; elsewhere use
it as a context manager::

    with LocalHTTPServer() as server:
        server.add("/story", "<html><body><p>Text</p></body></html>")
        server.add("/feed.xml", rss, content_type="application/rss+xml", etag='"v1"')
        fetch(server.url("/story"))
        assert server.requests[0].header("user-agent").startswith("geobot")

Routes (a path, matched with its query string first, then without it). Adding a route
again replaces it, so a test can change a feed between two polls; unknown paths get 404.

* ``add(path, body, *, content_type="text/html; charset=utf-8", status=200, headers=None,
  etag=None, last_modified=None)``: a fixed response. `body` may be str (sent as UTF-8);
  ``content_type=None`` sends no Content-Type header. With `etag` / `last_modified` the
  ETag / Last-Modified headers are sent, and a request whose ``If-None-Match`` matches
  (or, without that header, whose ``If-Modified-Since`` is not older) gets a 304 with no
  body.
* ``redirect(path, to, status=302)``: a Location header; `to` may be relative, point
  to another route (loops are allowed) or be any URL at all.
* ``status(path, code, body="")``: an error (or any) status with a short body.
* ``slow(path, body, delay_seconds, *, content_type=...)``: waits before answering.
* ``dribble(path, body, *, interval_seconds=0.1, chunk_size=1, content_type=...)``:
  sends the headers (with the full Content-Length) at once, then `chunk_size` bytes of
  the body every `interval_seconds`.
* ``big(path, size_bytes, content_type="text/html", *, send_length=True)``: a body of
  `size_bytes` generated in 64 KiB chunks (never held in memory whole); with
  ``send_length=False`` there is no Content-Length and the end of the body is the end of
  the connection.
* ``events(path, events, *, die_after=None, content_type="text/event-stream")``: a
  body sent with chunked transfer encoding, one chunk per item of `events` (bytes or
  str, each flushed at once), like a server streaming a reply; with `die_after=n` the
  connection closes after n chunks, without the closing chunk (a server that dies).
* ``drop(path)``: closes the connection without answering (a "reset" for the client).
* ``remove(path)``: forget a route (it answers 404 again).

POST requests are answered by the same routes as GET (an API endpoint is a fixed
response), and their body is logged.

The log: ``requests`` (a copy, in arrival order) of :class:`LoggedRequest`, each with
`method`, `path` (with the query), `headers` (names lower case; ``header(name)`` reads
one), `body` (of a POST) and `started` (``time.monotonic()`` when the request's headers
had arrived: compare it across requests to check rate limits). ``requests_to(path)`` filters it,
``clear_log()`` empties it. ``max_in_flight`` is the most requests ever handled at once.

``url(path, host=...)`` makes an absolute URL, by default with the address the server
listens on; ``host="localhost"`` names a server on 127.0.0.1 as another host.
``stop()`` returns promptly even while a slow or dribbling response is in flight: those
wake up and abandon their connection.
"""

from __future__ import annotations

import contextlib
import socket
import socketserver
import sys
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any

__all__ = ["LOCAL_HOSTS", "LocalHTTPServer", "LoggedRequest", "Route"]

LOCAL_HOSTS: tuple[str, ...] = ("127.0.0.1", "localhost")
"""What tests put in ``[fetch] allowed_hosts`` to fetch from the local servers."""

_CHUNK = 64 * 1024
_QUIET_ERRORS = (OSError,)  # resets, broken pipes, timeouts: the client went away


@dataclass(frozen=True)
class LoggedRequest:
    """One request as the server saw it."""

    method: str
    path: str
    headers: dict[str, str]
    started: float
    body: bytes = b""

    def header(self, name: str) -> str | None:
        return self.headers.get(name.lower())


@dataclass(frozen=True)
class Route:
    """How the server answers one path (built by the `LocalHTTPServer` methods)."""

    status: int = 200
    body: bytes = b""
    content_type: str | None = "text/html; charset=utf-8"
    headers: tuple[tuple[str, str], ...] = ()
    etag: str | None = None
    last_modified: str | None = None
    delay_seconds: float = 0.0
    dribble_interval: float = 0.0
    chunk_size: int = _CHUNK
    size: int | None = None
    send_length: bool = True
    drop: bool = False
    location: str | None = None
    events: tuple[bytes, ...] | None = None
    die_after: int | None = None


@dataclass
class _State:
    routes: dict[str, Route] = field(default_factory=dict)
    log: list[LoggedRequest] = field(default_factory=list)
    in_flight: int = 0
    max_in_flight: int = 0
    connections: set[socket.socket] = field(default_factory=set)


class LocalHTTPServer:
    """A threaded HTTP server on a loopback address (127.0.0.1 unless `host` says
    another) with a route table and a request log."""

    def __init__(self, host: str = "127.0.0.1") -> None:
        self.host = host
        self._lock = threading.Lock()
        self._state = _State()
        self._stopping = threading.Event()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle ------------------------------------------------------------------

    def start(self) -> LocalHTTPServer:
        if self._server is not None:
            return self
        self._stopping.clear()
        self._server = _Server(self)
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name=f"local-http-{self.port}",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        server, thread = self._server, self._thread
        if server is None:
            return
        self._stopping.set()  # wakes slow and dribbling responses
        server.shutdown()
        server.server_close()
        with self._lock:
            connections = list(self._state.connections)
        for connection in connections:  # unblock keep-alive handlers waiting for a request
            with contextlib.suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)
        if thread is not None:
            thread.join(timeout=5)
        self._server = None
        self._thread = None

    def __enter__(self) -> LocalHTTPServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    @property
    def port(self) -> int:
        if self._server is None:
            raise RuntimeError("the server is not started")
        return int(self._server.server_address[1])

    def url(self, path: str = "/", *, host: str | None = None) -> str:
        if not path.startswith("/"):
            path = "/" + path
        return f"http://{host or self.host}:{self.port}{path}"

    # -- routes ---------------------------------------------------------------------

    def add(
        self,
        path: str,
        body: bytes | str,
        *,
        content_type: str | None = "text/html; charset=utf-8",
        status: int = 200,
        headers: dict[str, str] | None = None,
        etag: str | None = None,
        last_modified: str | None = None,
    ) -> None:
        self._set(
            path,
            Route(
                status=status,
                body=_bytes(body),
                content_type=content_type,
                headers=tuple((headers or {}).items()),
                etag=etag,
                last_modified=last_modified,
            ),
        )

    def redirect(self, path: str, to: str, status: int = 302) -> None:
        self._set(path, Route(status=status, content_type=None, location=to))

    def status(self, path: str, code: int, body: bytes | str = "") -> None:
        self._set(path, Route(status=code, body=_bytes(body), content_type="text/plain"))

    def slow(
        self,
        path: str,
        body: bytes | str,
        delay_seconds: float,
        *,
        content_type: str | None = "text/html; charset=utf-8",
    ) -> None:
        self._set(
            path, Route(body=_bytes(body), content_type=content_type, delay_seconds=delay_seconds)
        )

    def dribble(
        self,
        path: str,
        body: bytes | str,
        *,
        interval_seconds: float = 0.1,
        chunk_size: int = 1,
        content_type: str | None = "text/html; charset=utf-8",
    ) -> None:
        self._set(
            path,
            Route(
                body=_bytes(body),
                content_type=content_type,
                dribble_interval=interval_seconds,
                chunk_size=max(1, chunk_size),
            ),
        )

    def big(
        self,
        path: str,
        size_bytes: int,
        content_type: str | None = "text/html",
        *,
        send_length: bool = True,
    ) -> None:
        self._set(path, Route(content_type=content_type, size=size_bytes, send_length=send_length))

    def events(
        self,
        path: str,
        events: Sequence[bytes] | Sequence[str],
        *,
        die_after: int | None = None,
        content_type: str | None = "text/event-stream",
    ) -> None:
        self._set(
            path,
            Route(
                content_type=content_type,
                events=tuple(_bytes(e) for e in events),
                die_after=die_after,
            ),
        )

    def drop(self, path: str) -> None:
        self._set(path, Route(drop=True))

    def remove(self, path: str) -> None:
        with self._lock:
            self._state.routes.pop(path, None)

    # -- the log --------------------------------------------------------------------

    @property
    def requests(self) -> list[LoggedRequest]:
        with self._lock:
            return list(self._state.log)

    def requests_to(self, path: str) -> list[LoggedRequest]:
        return [request for request in self.requests if request.path == path]

    def clear_log(self) -> None:
        with self._lock:
            self._state.log.clear()
            self._state.max_in_flight = self._state.in_flight

    @property
    def max_in_flight(self) -> int:
        with self._lock:
            return self._state.max_in_flight

    # -- used by the handler --------------------------------------------------------

    def _set(self, path: str, route: Route) -> None:
        with self._lock:
            self._state.routes[path] = route

    def _route(self, path: str) -> Route | None:
        with self._lock:
            routes = self._state.routes
            return routes.get(path) or routes.get(path.partition("?")[0])

    def _begin(self, request: LoggedRequest) -> None:
        with self._lock:
            self._state.log.append(request)
            self._state.in_flight += 1
            self._state.max_in_flight = max(self._state.max_in_flight, self._state.in_flight)

    def _end(self) -> None:
        with self._lock:
            self._state.in_flight -= 1

    def _track(self, connection: socket.socket, alive: bool) -> None:
        with self._lock:
            if alive:
                self._state.connections.add(connection)
            else:
                self._state.connections.discard(connection)

    def _wait(self, seconds: float) -> bool:
        """Sleep; False if the server is stopping (the response should be abandoned)."""
        return not self._stopping.wait(seconds)


def _bytes(body: bytes | str) -> bytes:
    return body.encode("utf-8") if isinstance(body, str) else body


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False
    allow_reuse_address = True

    def __init__(self, owner: LocalHTTPServer) -> None:
        self.owner = owner
        super().__init__((owner.host, 0), _Handler)

    def server_bind(self) -> None:
        # HTTPServer.server_bind looks up the host's FQDN, which can stall without DNS.
        socketserver.TCPServer.server_bind(self)
        self.server_name = self.owner.host
        self.server_port = int(self.server_address[1])

    def process_request(self, request: Any, client_address: Any) -> None:
        self.owner._track(request, alive=True)
        super().process_request(request, client_address)

    def shutdown_request(self, request: Any) -> None:
        self.owner._track(request, alive=False)
        super().shutdown_request(request)

    def handle_error(self, request: Any, client_address: Any) -> None:
        if isinstance(sys.exc_info()[1], _QUIET_ERRORS):
            return  # the client went away (a timeout or a size cap): expected in tests
        super().handle_error(request, client_address)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    timeout = 30  # an idle keep-alive connection is closed after this
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        self._handle(send_body=True)

    def do_HEAD(self) -> None:
        self._handle(send_body=False)

    def do_POST(self) -> None:
        self._handle(send_body=True)

    def _handle(self, *, send_body: bool) -> None:
        owner = self.server.owner
        started = time.monotonic()
        length = int(self.headers.get("Content-Length") or 0)
        request = LoggedRequest(
            method=self.command,
            path=self.path,
            headers={name.lower(): value for name, value in self.headers.items()},
            started=started,
            body=self.rfile.read(length) if length > 0 else b"",
        )
        owner._begin(request)
        try:
            self._respond(owner, request, send_body)
        except _QUIET_ERRORS:
            self.close_connection = True
        finally:
            owner._end()

    def _respond(self, owner: LocalHTTPServer, request: LoggedRequest, send_body: bool) -> None:
        route = owner._route(self.path)
        if route is None:
            route = Route(status=404, body=b"not found", content_type="text/plain")
        if route.drop:
            self.close_connection = True
            return
        if route.delay_seconds and not owner._wait(route.delay_seconds):
            self.close_connection = True
            return
        if _not_modified(route, request):
            self.send_response(304)
            self._validators(route)
            self.end_headers()
            return
        self.send_response(route.status)
        if route.content_type is not None:
            self.send_header("Content-Type", route.content_type)
        if route.location is not None:
            self.send_header("Location", route.location)
        for name, value in route.headers:
            self.send_header(name, value)
        self._validators(route)
        if route.size is not None:
            self._send_big(owner, route, send_body)
            return
        if route.events is not None:
            self._send_events(route, send_body)
            return
        self.send_header("Content-Length", str(len(route.body)))
        self.end_headers()
        if not send_body:
            return
        if route.dribble_interval > 0:
            body = route.body
            for start in range(0, len(body), route.chunk_size):
                self.wfile.write(body[start : start + route.chunk_size])
                if not owner._wait(route.dribble_interval):
                    self.close_connection = True
                    return
        else:
            self.wfile.write(route.body)

    def _validators(self, route: Route) -> None:
        if route.etag is not None:
            self.send_header("ETag", route.etag)
        if route.last_modified is not None:
            self.send_header("Last-Modified", route.last_modified)

    def _send_events(self, route: Route, send_body: bool) -> None:
        self.send_header("Transfer-Encoding", "chunked")
        self.send_header("Cache-Control", "no-cache")
        self.end_headers()
        if not send_body:
            return
        for sent, event in enumerate(route.events or ()):
            if route.die_after is not None and sent >= route.die_after:
                self.close_connection = True
                self.wfile.flush()
                self.connection.shutdown(socket.SHUT_RDWR)
                return
            if event:
                self.wfile.write(f"{len(event):x}\r\n".encode() + event + b"\r\n")
                self.wfile.flush()
        self.wfile.write(b"0\r\n\r\n")

    def _send_big(self, owner: LocalHTTPServer, route: Route, send_body: bool) -> None:
        size = route.size or 0
        if route.send_length:
            self.send_header("Content-Length", str(size))
        else:
            self.send_header("Connection", "close")
            self.close_connection = True
        self.end_headers()
        if not send_body:
            return
        xml = route.content_type is not None and "xml" in route.content_type
        prefix = b'<?xml version="1.0"?><rss><channel>' if xml else b"<!doctype html><html><p>"
        filler = (b"lorem ipsum " * (_CHUNK // 12 + 1))[:_CHUNK]
        sent = 0
        while sent < size and not owner._stopping.is_set():
            chunk = prefix + filler[len(prefix) :] if sent == 0 else filler
            chunk = chunk[: size - sent]
            self.wfile.write(chunk)
            sent += len(chunk)


def _not_modified(route: Route, request: LoggedRequest) -> bool:
    if route.status != 200 or (route.etag is None and route.last_modified is None):
        return False
    if_none_match = request.header("if-none-match")
    if if_none_match is not None:
        if route.etag is None:
            return False
        tags = [tag.strip().removeprefix("W/") for tag in if_none_match.split(",")]
        return "*" in tags or route.etag.removeprefix("W/") in tags
    if_modified_since = request.header("if-modified-since")
    if if_modified_since is None or route.last_modified is None:
        return False
    if if_modified_since == route.last_modified:
        return True
    try:
        return parsedate_to_datetime(route.last_modified) <= parsedate_to_datetime(
            if_modified_since
        )
    except (TypeError, ValueError):
        return False
