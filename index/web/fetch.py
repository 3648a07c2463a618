"""A polite, bounded async HTTP client for article pages and feeds.

One :class:`Fetcher` holds one shared :class:`httpx.AsyncClient` and applies geobot's
rules to every request, so the layers above (feed polling, ``geobot ingest URL``) never talk
to the network another way:

* only ``http`` and ``https`` URLs, checked on the URL asked for and on every redirect;
* only public hosts: a URL whose host is, in any spelling, a loopback, private,
  link-local or otherwise non-public address, or a ``localhost`` name, is refused before
  any request (the first and every redirect hop), and a name is refused at connect time
  if any address it resolves to is; the connection then goes to the address checked, so
  a name server cannot answer one address to the check and another to the connection
  (index/web/address_policy.py, index/web/guarded_transport.py). ``[fetch]
  allowed_hosts`` lets named hosts, addresses and ranges through. Proxies from the
  environment are not used;
* the configured ``User-Agent`` on every request, an ``Accept`` header suited to a page or
  a feed, and conditional GETs (``If-None-Match`` / ``If-Modified-Since``) when the caller
  knows the ETag or Last-Modified of its last copy; a ``304`` comes back as a
  :class:`FetchedResource` with an empty body;
* a deadline on each request, from connect to last byte (a server that sends one byte a
  second cannot hold a fetch forever), on top of httpx's connect/read/write timeouts;
* a size cap: an announced ``Content-Length`` over the limit is refused before the body is
  read, and a body without one is streamed and abandoned as soon as it passes the limit;
* redirects followed here, not by httpx, so each hop is checked: at most
  ``max_redirects``, loops named, relative ``Location`` resolved, 301/302/303/307/308 only;
* a content type that fits what was asked for (an HTML page, or an RSS/Atom/RDF feed); a
  missing or generic type (``application/octet-stream``, ``text/plain``) is settled by
  sniffing the first bytes of the body;
* politeness: two requests to one host (scheme, host and port) start at least
  ``host_interval_seconds`` apart, every redirect hop included, and at most
  ``concurrency`` requests are in flight at once. Requests to different hosts do not wait
  for each other.

Every failure is a :class:`~index.errors.FetchError` whose message is one line
(``URL: reason``) and whose `kind` sorts it: scheme, refused, network, timeout,
too_large, redirect, status or content_type.

Use it as an async context manager::

    async with Fetcher(config.fetch) as fetcher:
        page = await fetcher.fetch("https://example.com/story", kind="page")
"""

from __future__ import annotations

import asyncio
import errno as errno_module
import os
import socket
import time
import urllib.parse
from dataclasses import dataclass
from http import HTTPStatus
from types import TracebackType
from typing import Literal, NoReturn

import httpx

from index.config import FetchConfig
from index.errors import FetchError
from index.sources.sniffing import looks_like_feed, looks_like_html
from index.web.address_policy import AddressPolicy, AddressRefusedError
from index.web.guarded_transport import GuardedTransport

__all__ = ["FetchKind", "FetchedResource", "Fetcher"]

FetchKind = Literal["page", "feed"]

_REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})

_ACCEPT: dict[FetchKind, str] = {
    "page": "text/html,application/xhtml+xml;q=0.9,*/*;q=0.1",
    "feed": (
        "application/rss+xml,application/atom+xml,application/rdf+xml;q=0.9,"
        "application/xml;q=0.8,text/xml;q=0.8,*/*;q=0.1"
    ),
}

_PAGE_TYPES = frozenset({"text/html", "application/xhtml+xml"})
_FEED_TYPES = frozenset(
    {
        "application/rss+xml",
        "application/atom+xml",
        "application/rdf+xml",
        "application/xml",
        "text/xml",
        "application/x-rss+xml",
        "application/x-atom+xml",
        "application/rss",
    }
)
# Types that say nothing about the content: the body decides.
_GENERIC_TYPES = frozenset({"application/octet-stream", "binary/octet-stream", "text/plain"})


@dataclass(frozen=True)
class FetchedResource:
    """One downloaded page or feed (or a ``304 Not Modified`` answer)."""

    url: str
    """The URL as requested."""
    final_url: str
    """The URL after redirects (the same as `url` when there were none)."""
    status: int
    """The final HTTP status: a 2xx code, or 304."""
    content_type: str | None
    """The media type, lower case, without parameters (``text/html``); None if not sent."""
    charset: str | None
    """The ``charset`` parameter of the Content-Type header, if any."""
    body: bytes
    """The body as received (content-encoding undone); ``b""`` on 304."""
    etag: str | None
    last_modified: str | None
    elapsed: float
    """Seconds the whole fetch took, redirects and politeness waits included."""

    @property
    def not_modified(self) -> bool:
        """True when the server answered 304: the caller's copy is still current."""
        return self.status == 304


@dataclass
class _Hop:
    """What one request of a fetch produced (before redirects are followed)."""

    status: int
    reason: str
    location: str | None
    content_type: str | None
    charset: str | None
    body: bytes
    etag: str | None
    last_modified: str | None


class Fetcher:
    """Async, polite: one shared httpx.AsyncClient; use as `async with Fetcher(config) as f:`.

    `transport` replaces the network transport, a :class:`GuardedTransport` (which checks
    every address it connects to): ``httpx.MockTransport`` in unit tests, or a
    GuardedTransport with a test resolver. Every URL's host is checked here whatever the
    transport. A Fetcher belongs to the event loop that first uses it.
    """

    def __init__(
        self, config: FetchConfig, *, transport: httpx.AsyncBaseTransport | None = None
    ) -> None:
        self._config = config
        self._policy = AddressPolicy.allowing(config.allowed_hosts)
        self._client = httpx.AsyncClient(
            transport=transport or GuardedTransport(config),
            timeout=httpx.Timeout(config.timeout_seconds),
            follow_redirects=False,
            headers={"User-Agent": config.user_agent},
            # No proxies from the environment (a proxy would resolve and connect where
            # the address check cannot see) and no credentials from ~/.netrc.
            trust_env=False,
        )
        self._slots = asyncio.Semaphore(config.concurrency)
        self._host_locks: dict[tuple[str, str, int], asyncio.Lock] = {}
        self._host_last_start: dict[tuple[str, str, int], float] = {}

    async def __aenter__(self) -> Fetcher:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close the shared client and its connections."""
        await self._client.aclose()

    async def fetch(
        self,
        url: str,
        *,
        kind: FetchKind,
        etag: str | None = None,
        last_modified: str | None = None,
    ) -> FetchedResource:
        """Download `url` as a page or a feed, or raise :class:`FetchError`.

        With `etag` or `last_modified` (from an earlier fetch) the request is conditional,
        and an unchanged resource comes back with ``status == 304`` and an empty body.
        """
        started = time.monotonic()
        current = _checked_url(url, url, self._policy, redirected=False)
        headers = {"Accept": _ACCEPT[kind]}
        if etag is not None:
            headers["If-None-Match"] = etag
        if last_modified is not None:
            headers["If-Modified-Since"] = last_modified
        conditional = etag is not None or last_modified is not None
        chain = [str(current)]
        hop = await self._request(url, current, headers, kind, redirected=False)
        while hop.status in _REDIRECT_STATUSES:
            current = self._next_hop(url, current, hop, chain)
            chain.append(str(current))
            hop = await self._request(url, current, headers, kind, redirected=True)
        final_url = str(current)
        if hop.status == 304 and conditional:
            return FetchedResource(
                url=url,
                final_url=final_url,
                status=304,
                content_type=hop.content_type,
                charset=hop.charset,
                body=b"",
                etag=hop.etag or etag,
                last_modified=hop.last_modified or last_modified,
                elapsed=time.monotonic() - started,
            )
        if not 200 <= hop.status < 300:
            _fail(url, f"HTTP {hop.status} {hop.reason}".rstrip(), "status", hop.status)
        if not _is_accepted(kind, hop.content_type) and not _looks_like(kind, hop.body):
            _fail(url, _content_type_reason(kind, hop.content_type), "content_type")
        return FetchedResource(
            url=url,
            final_url=final_url,
            status=hop.status,
            content_type=hop.content_type,
            charset=hop.charset,
            body=hop.body,
            etag=hop.etag,
            last_modified=hop.last_modified,
            elapsed=time.monotonic() - started,
        )

    def _next_hop(self, url: str, current: httpx.URL, hop: _Hop, chain: list[str]) -> httpx.URL:
        if not hop.location:
            _fail(url, f"HTTP {hop.status} redirect without a Location header", "redirect")
        try:
            target = current.join(hop.location.strip())
        except httpx.InvalidURL as exc:
            _fail(url, f"redirected to an invalid URL {hop.location!r} ({exc})", "redirect")
        target = target.copy_with(fragment=None)
        target = _checked_url(url, str(target), self._policy, redirected=True)
        if str(target) in chain:
            loop = " -> ".join([*chain[chain.index(str(target)) :], str(target)])
            _fail(url, f"redirect loop ({loop})", "redirect")
        if len(chain) > self._config.max_redirects:
            _fail(url, f"more than {self._config.max_redirects} redirects", "redirect")
        return target

    async def _request(
        self,
        url: str,
        target: httpx.URL,
        headers: dict[str, str],
        kind: FetchKind,
        *,
        redirected: bool,
    ) -> _Hop:
        """One GET, after the host's politeness interval and within the global cap."""
        await self._wait_for_turn(target)
        try:
            return await self._get(url, target, headers, kind, redirected=redirected)
        finally:
            self._slots.release()

    async def _wait_for_turn(self, target: httpx.URL) -> None:
        """Wait until `target`'s host may be asked again, then take a concurrency slot.

        The host's lock is held while waiting (only requests to that host queue behind
        it), and the slot is taken only once the interval has passed, so a request that is
        merely waiting for its host never keeps a request to another host from starting.
        Returns holding a slot: the caller releases it.
        """
        key = _host_key(target)
        lock = self._host_locks.get(key)
        if lock is None:
            lock = self._host_locks[key] = asyncio.Lock()
        interval = self._config.host_interval_seconds
        async with lock:
            last = self._host_last_start.get(key)
            if last is not None:
                # A loop, in case a sleep wakes a hair early.
                while (delay := last + interval - time.monotonic()) > 0:
                    await asyncio.sleep(delay)
            await self._slots.acquire()
            # No await between taking the slot and returning: a cancellation cannot leak it.
            self._host_last_start[key] = time.monotonic()

    async def _get(
        self,
        url: str,
        target: httpx.URL,
        headers: dict[str, str],
        kind: FetchKind,
        *,
        redirected: bool,
    ) -> _Hop:
        limit = self._config.timeout_seconds
        try:
            async with asyncio.timeout(limit):
                return await self._exchange(url, target, headers, kind)
        except AddressRefusedError as exc:  # from the transport, at connect time
            where = f"redirected to {target}: " if redirected else ""
            _fail(url, f"{where}refused: {exc.reason}", "refused")
        except (TimeoutError, httpx.TimeoutException):
            _fail(url, f"timed out after {limit:g} s", "timeout")
        except httpx.UnsupportedProtocol:
            _fail(url, f"unsupported URL {str(target)!r}", "scheme")
        except httpx.InvalidURL as exc:
            _fail(url, f"invalid URL ({exc})", "scheme")
        except httpx.ConnectError as exc:
            _fail(url, _connect_reason(target, exc), "network")
        except httpx.DecodingError as exc:
            _fail(url, f"cannot decode the body sent by {_netloc(target)}: {exc}", "network")
        except httpx.RequestError as exc:
            _fail(url, f"connection to {_netloc(target)} failed: {_describe(exc)}", "network")

    async def _exchange(
        self, url: str, target: httpx.URL, headers: dict[str, str], kind: FetchKind
    ) -> _Hop:
        request = self._client.build_request("GET", target, headers=headers)
        response = await self._client.send(request, stream=True)
        try:
            content_type, charset = _parse_content_type(response.headers.get("content-type"))
            hop = _Hop(
                status=response.status_code,
                reason=response.reason_phrase or _standard_phrase(response.status_code),
                location=response.headers.get("location"),
                content_type=content_type,
                charset=charset,
                body=b"",
                etag=response.headers.get("etag"),
                last_modified=response.headers.get("last-modified"),
            )
            if not 200 <= hop.status < 300:
                return hop  # redirects, 304 and errors: the body is not wanted
            if not _is_accepted(kind, content_type) and content_type not in _sniffable(kind):
                _fail(url, _content_type_reason(kind, content_type), "content_type")
            self._check_length(url, response.headers.get("content-length"))
            hop.body = await self._read_body(url, response)
            return hop
        finally:
            await response.aclose()

    def _check_length(self, url: str, header: str | None) -> None:
        if header is None:
            return
        try:
            announced = int(header.strip())
        except ValueError:
            return  # a broken header: the streamed count decides
        limit = self._config.max_bytes
        if announced > limit:
            _fail(
                url,
                f"larger than {_human_bytes(limit)}: Content-Length is {announced:,} bytes "
                f"(limit {limit:,} bytes)",
                "too_large",
            )

    async def _read_body(self, url: str, response: httpx.Response) -> bytes:
        limit = self._config.max_bytes
        chunks: list[bytes] = []
        received = 0
        async for chunk in response.aiter_bytes():
            received += len(chunk)
            if received > limit:
                _fail(
                    url,
                    f"larger than {_human_bytes(limit)} (limit {limit:,} bytes)",
                    "too_large",
                )
            chunks.append(chunk)
        return b"".join(chunks)


def _fail(url: str, reason: str, kind: str, status: int | None = None) -> NoReturn:
    raise FetchError(url, reason, kind=kind, status=status)


def _checked_url(
    requested: str, candidate: str, policy: AddressPolicy, *, redirected: bool
) -> httpx.URL:
    """Parse `candidate` and insist on an absolute http or https URL with a host that
    the address policy does not refuse."""
    where = f"redirected to {candidate}: " if redirected else ""
    try:
        parsed = httpx.URL(candidate.strip())
    except (httpx.InvalidURL, TypeError) as exc:
        # httpx rejects some spellings of an address (0177.0.0.1): say what it was.
        _check_host(requested, where, policy, _loose_host(candidate))
        _fail(requested, f"{where}not a valid URL ({exc})", "scheme")
    scheme = parsed.scheme.lower()
    if not scheme:
        _fail(requested, f"{where}not an absolute URL: it has no scheme (http or https)", "scheme")
    if scheme not in ("http", "https"):
        _fail(requested, f"{where}only http and https URLs can be fetched, not {scheme}", "scheme")
    if not parsed.host:
        _fail(requested, f"{where}the URL has no host", "scheme")
    _check_host(requested, where, policy, parsed.raw_host.decode("ascii"))
    return parsed


def _check_host(requested: str, where: str, policy: AddressPolicy, host: str | None) -> None:
    if not host:
        return
    try:
        policy.check_host(host)
    except AddressRefusedError as exc:
        _fail(requested, f"{where}refused: {exc.reason}", "refused")


def _loose_host(candidate: object) -> str | None:
    """The host of a URL that httpx would not parse, as the standard library reads it."""
    if not isinstance(candidate, str):
        return None
    try:
        return urllib.parse.urlsplit(candidate.strip()).hostname
    except ValueError:
        return None


def _host_key(url: httpx.URL) -> tuple[str, str, int]:
    scheme = url.scheme.lower()
    port = url.port if url.port is not None else (443 if scheme == "https" else 80)
    return (scheme, url.host.lower(), port)


def _netloc(url: httpx.URL) -> str:
    return f"{url.host}:{url.port}" if url.port is not None else url.host


def _is_accepted(kind: FetchKind, content_type: str | None) -> bool:
    """Whether a response of this media type is taken as is (no sniffing)."""
    if content_type is None:
        return False
    if kind == "page":
        return content_type in _PAGE_TYPES
    if content_type in _FEED_TYPES:
        return True
    # Other XML vocabularies that feeds are served as (application/x-atom+xml, ...).
    top, _, sub = content_type.partition("/")
    return top in ("application", "text") and sub.endswith("+xml") and sub != "xhtml+xml"


def _sniffable(kind: FetchKind) -> frozenset[str | None]:
    """Types that are accepted only if the body looks right.

    A missing or generic type, and for feeds also ``text/html`` (some servers label RSS
    that way).
    """
    return frozenset({None, *_GENERIC_TYPES, *(("text/html",) if kind == "feed" else ())})


def _content_type_reason(kind: FetchKind, content_type: str | None) -> str:
    what = "an HTML page" if kind == "page" else "a feed (RSS, Atom or RDF)"
    if content_type is None:
        return f"not {what} (no content type, and the body does not look like one)"
    if content_type in _sniffable(kind):
        return f"not {what} (content type {content_type}, and the body does not look like one)"
    return f"not {what} (content type {content_type})"


def _parse_content_type(header: str | None) -> tuple[str | None, str | None]:
    """``'Text/HTML; charset="UTF-8"'`` -> ``('text/html', 'UTF-8')``."""
    if header is None:
        return None, None
    raw_media, _, params = header.partition(";")
    media = raw_media.strip().lower() or None
    charset: str | None = None
    for param in params.split(";"):
        name, _, value = param.partition("=")
        if name.strip().lower() == "charset":
            charset = value.strip().strip("\"'").strip() or None
    return media, charset


def _looks_like(kind: FetchKind, body: bytes) -> bool:
    return looks_like_feed(body) if kind == "feed" else looks_like_html(body, fragment=True)


def _standard_phrase(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return ""


def _human_bytes(size: int) -> str:
    for unit, factor in (("GB", 10**9), ("MB", 10**6), ("kB", 10**3)):
        if size >= factor:
            return f"{size / factor:.1f}".removesuffix(".0") + f" {unit}"
    return f"{size} bytes"


def _root_os_error(exc: BaseException) -> OSError | None:
    """The innermost OSError with an errno behind an httpx exception, if any."""
    found: OSError | None = None
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, OSError) and current.errno is not None:
            found = current
        current = current.__cause__ or current.__context__
    return found


def _describe(exc: BaseException) -> str:
    root = _root_os_error(exc)
    if root is not None and root.errno is not None:
        if isinstance(root, socket.gaierror):
            return root.strerror or str(root)
        if root.errno in errno_module.errorcode:
            return os.strerror(root.errno)
    return str(exc) or type(exc).__name__


def _connect_reason(target: httpx.URL, exc: httpx.ConnectError) -> str:
    root = _root_os_error(exc)
    if isinstance(root, socket.gaierror):
        return f"cannot resolve host {target.host}: {_describe(exc)}"
    return f"cannot connect to {_netloc(target)}: {_describe(exc)}"
