"""The polite fetcher (index/web/fetch.py) against a real HTTP server on 127.0.0.1."""

from __future__ import annotations

import asyncio
import itertools
import socket
import time
import tracemalloc
from typing import Any

import httpx
import pytest
from local_http import LOCAL_HOSTS, LocalHTTPServer

from index.config import FetchConfig
from index.errors import BadInputError, FetchError
from index.web.fetch import FetchedResource, Fetcher, FetchKind
from index.web.guarded_transport import GuardedTransport

PAGE = "<!doctype html><html><head><title>Story</title></head><body><p>Text.</p></body></html>"
RSS = (
    '<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>News</title>'
    "<item><title>One</title><link>https://example.com/1</link></item></channel></rss>"
)
# Spacing is measured where the fetcher hands each request to the network (SendTimes),
# not where the server sees it: a loaded machine can delay a connect or the server's
# thread by any amount, but not reorder the fetcher's own steps. What is left between the
# fetcher marking a host's turn and the transport receiving the request is a few steps
# of Python on one event loop.
JITTER = 0.05


class SendTimes(httpx.AsyncBaseTransport):
    """The real network transport, noting when each request is handed to it."""

    def __init__(self) -> None:
        self._network = GuardedTransport(config())
        self.sent: list[tuple[str, float]] = []  # (host:port/path, time.monotonic())

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.sent.append(
            (f"{request.url.host}:{request.url.port}{request.url.path}", time.monotonic())
        )
        return await self._network.handle_async_request(request)

    async def aclose(self) -> None:
        await self._network.aclose()

    def times(self, *, ending: str = "") -> list[float]:
        return sorted(when for where, when in self.sent if where.endswith(ending))


def config(**changes: Any) -> FetchConfig:
    settings: dict[str, Any] = {
        "host_interval_seconds": 0.0,
        "timeout_seconds": 10.0,
        "allowed_hosts": LOCAL_HOSTS,
    }
    settings.update(changes)
    return FetchConfig(**settings)


def fetch(
    url: str,
    *,
    kind: FetchKind = "page",
    settings: FetchConfig | None = None,
    transport: httpx.AsyncBaseTransport | None = None,
    **conditions: str,
) -> FetchedResource:
    async def go() -> FetchedResource:
        async with Fetcher(settings or config(), transport=transport) as fetcher:
            return await fetcher.fetch(url, kind=kind, **conditions)

    return asyncio.run(go())


def fetch_error(url: str, **options: Any) -> FetchError:
    with pytest.raises(FetchError) as caught:
        fetch(url, **options)
    error = caught.value
    assert str(error) == f"{url}: {error.reason}"
    assert "\n" not in str(error)
    return error


def fetch_many(
    urls: list[str], settings: FetchConfig, transport: httpx.AsyncBaseTransport | None = None
) -> list[FetchedResource]:
    async def go() -> list[FetchedResource]:
        async with Fetcher(settings, transport=transport) as fetcher:
            return list(await asyncio.gather(*(fetcher.fetch(u, kind="page") for u in urls)))

    return asyncio.run(go())


# -- successful fetches -------------------------------------------------------------


def test_fetches_a_page_with_geobot_headers(local_http: LocalHTTPServer) -> None:
    local_http.add(
        "/story",
        PAGE,
        content_type="text/html; charset=ISO-8859-1",
        etag='"abc"',
        last_modified="Tue, 01 Jul 2025 10:00:00 GMT",
    )
    url = local_http.url("/story")
    page = fetch(url)
    assert page.url == page.final_url == url
    assert page.status == 200 and not page.not_modified
    assert page.body == PAGE.encode()
    assert (page.content_type, page.charset) == ("text/html", "ISO-8859-1")
    assert page.etag == '"abc"'
    assert page.last_modified == "Tue, 01 Jul 2025 10:00:00 GMT"
    assert page.elapsed > 0
    [request] = local_http.requests
    assert request.method == "GET" and request.path == "/story"
    assert request.header("user-agent") == FetchConfig().user_agent
    assert "text/html" in (request.header("accept") or "")
    assert request.header("if-none-match") is None
    assert request.header("if-modified-since") is None


def test_user_agent_comes_from_the_configuration(local_http: LocalHTTPServer) -> None:
    local_http.add("/", PAGE)
    fetch(local_http.url("/"), settings=config(user_agent="tester/2.0 (+mailto:t@example.com)"))
    assert local_http.requests[0].header("user-agent") == "tester/2.0 (+mailto:t@example.com)"


@pytest.mark.parametrize(
    "content_type",
    [
        "application/rss+xml",
        "application/atom+xml",
        "application/rdf+xml",
        "application/xml; charset=utf-8",
        "text/xml",
        "application/x-rss+xml",
        "application/x-atom+xml",
    ],
)
def test_feed_content_types_are_accepted(local_http: LocalHTTPServer, content_type: str) -> None:
    local_http.add("/feed", RSS, content_type=content_type)
    feed = fetch(local_http.url("/feed"), kind="feed")
    assert feed.body == RSS.encode()
    assert feed.content_type == content_type.split(";")[0]
    accept = local_http.requests[0].header("accept") or ""
    assert "application/rss+xml" in accept and "application/atom+xml" in accept


def test_conditional_get_with_etag(local_http: LocalHTTPServer) -> None:
    local_http.add("/feed", RSS, content_type="application/rss+xml", etag='"v1"')
    url = local_http.url("/feed")
    first = fetch(url, kind="feed")
    assert first.status == 200 and first.etag == '"v1"'

    again = fetch(url, kind="feed", etag='"v1"')
    assert again.status == 304 and again.not_modified
    assert again.body == b""
    assert again.etag == '"v1"'
    assert local_http.requests[1].header("if-none-match") == '"v1"'

    newer = RSS.replace("One", "Two")
    local_http.add("/feed", newer, content_type="application/rss+xml", etag='"v2"')
    changed = fetch(url, kind="feed", etag='"v1"')
    assert changed.status == 200 and changed.body == newer.encode()
    assert changed.etag == '"v2"'


def test_conditional_get_with_last_modified(local_http: LocalHTTPServer) -> None:
    stamp = "Wed, 02 Jul 2025 08:30:00 GMT"
    local_http.add("/feed", RSS, content_type="application/rss+xml", last_modified=stamp)
    url = local_http.url("/feed")
    assert fetch(url, kind="feed").last_modified == stamp

    again = fetch(url, kind="feed", last_modified=stamp)
    assert again.not_modified and again.body == b""
    assert again.last_modified == stamp
    sent = local_http.requests[1]
    assert sent.header("if-modified-since") == stamp
    assert sent.header("if-none-match") is None


def test_both_validators_are_sent(local_http: LocalHTTPServer) -> None:
    stamp = "Wed, 02 Jul 2025 08:30:00 GMT"
    local_http.add("/p", PAGE, etag='"x"', last_modified=stamp)
    assert fetch(local_http.url("/p"), etag='"x"', last_modified=stamp).not_modified
    sent = local_http.requests[0]
    assert (sent.header("if-none-match"), sent.header("if-modified-since")) == ('"x"', stamp)


# -- URLs and redirects -------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "words"),
    [
        ("ftp://example.com/file.txt", "only http and https URLs can be fetched, not ftp"),
        ("file:///etc/passwd", "not file"),
        ("javascript:alert(1)", "not javascript"),
        ("example.com/story", "no scheme"),
        ("http:///story", "no host"),
    ],
)
def test_only_http_and_https_urls(url: str, words: str) -> None:
    error = fetch_error(url)
    assert error.kind == "scheme"
    assert words in error.reason
    assert isinstance(error, BadInputError)


def test_redirect_chain_is_followed_to_the_final_url(local_http: LocalHTTPServer) -> None:
    local_http.redirect("/old", local_http.url("/moved"), status=301)
    local_http.redirect("/moved", "next/step", status=302)  # relative to /moved
    local_http.redirect("/next/step", "/final?x=1", status=307)
    local_http.redirect("/final?x=1", "/final", status=308)
    local_http.add("/final", PAGE)
    url = local_http.url("/old")
    page = fetch(url)
    assert page.url == url
    assert page.final_url == local_http.url("/final")
    assert page.body == PAGE.encode()
    assert [r.path for r in local_http.requests] == [
        "/old",
        "/moved",
        "/next/step",
        "/final?x=1",
        "/final",
    ]
    # Every hop is a geobot request.
    assert {r.header("user-agent") for r in local_http.requests} == {FetchConfig().user_agent}


def test_redirect_loop_is_named(local_http: LocalHTTPServer) -> None:
    local_http.redirect("/a", "/b")
    local_http.redirect("/b", "/c")
    local_http.redirect("/c", "/b")
    a, b, c = (local_http.url(p) for p in ("/a", "/b", "/c"))
    error = fetch_error(a)
    assert error.kind == "redirect"
    assert error.reason == f"redirect loop ({b} -> {c} -> {b})"


def test_too_many_redirects(local_http: LocalHTTPServer) -> None:
    for hop in range(7):
        local_http.redirect(f"/r{hop}", f"/r{hop + 1}")
    local_http.add("/r7", PAGE)
    error = fetch_error(local_http.url("/r0"), settings=config(max_redirects=5))
    assert error.kind == "redirect"
    assert error.reason == "more than 5 redirects"
    assert len(local_http.requests) == 6
    # Exactly the limit is fine.
    assert fetch(local_http.url("/r2"), settings=config(max_redirects=5)).final_url.endswith("/r7")


def test_redirects_can_be_turned_off(local_http: LocalHTTPServer) -> None:
    local_http.redirect("/a", "/b")
    local_http.add("/b", PAGE)
    error = fetch_error(local_http.url("/a"), settings=config(max_redirects=0))
    assert (error.kind, error.reason) == ("redirect", "more than 0 redirects")


def test_redirect_to_another_scheme_is_refused(local_http: LocalHTTPServer) -> None:
    local_http.redirect("/a", "ftp://files.example.com/story.html")
    error = fetch_error(local_http.url("/a"))
    assert error.kind == "scheme"
    assert "redirected to ftp://files.example.com/story.html" in error.reason
    assert "not ftp" in error.reason


def test_redirect_without_location(local_http: LocalHTTPServer) -> None:
    local_http.status("/a", 302, "gone somewhere")
    error = fetch_error(local_http.url("/a"))
    assert error.kind == "redirect"
    assert "without a Location" in error.reason


# -- status codes -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("code", "reason"),
    [
        (404, "HTTP 404 Not Found"),
        (500, "HTTP 500 Internal Server Error"),
        (403, "HTTP 403 Forbidden"),
        (300, "HTTP 300 Multiple Choices"),
    ],
)
def test_error_status(local_http: LocalHTTPServer, code: int, reason: str) -> None:
    local_http.status("/x", code, "nope")
    error = fetch_error(local_http.url("/x"))
    assert (error.kind, error.status, error.reason) == ("status", code, reason)


def test_unknown_path_is_404(local_http: LocalHTTPServer) -> None:
    error = fetch_error(local_http.url("/missing"))
    assert (error.kind, error.status) == ("status", 404)


def test_304_without_a_conditional_request_is_an_error(local_http: LocalHTTPServer) -> None:
    local_http.status("/x", 304)
    error = fetch_error(local_http.url("/x"))
    assert (error.kind, error.status) == ("status", 304)


# -- time and size limits -----------------------------------------------------------


def test_slow_response_times_out(local_http: LocalHTTPServer) -> None:
    # The page would come after 5 s; a timeout error (not the page) shows the 0.5 s
    # deadline cut it off, with no measuring of how long that took.
    local_http.slow("/slow", PAGE, delay_seconds=5.0)
    error = fetch_error(local_http.url("/slow"), settings=config(timeout_seconds=0.5))
    assert error.kind == "timeout"
    assert error.reason == "timed out after 0.5 s"


def test_dribbling_server_hits_the_overall_deadline(local_http: LocalHTTPServer) -> None:
    # One byte every 0.1 s: no single read waits long, but the whole body takes 20 s.
    local_http.dribble("/drip", "x" * 200, interval_seconds=0.1, chunk_size=1)
    began = time.monotonic()
    error = fetch_error(local_http.url("/drip"), settings=config(timeout_seconds=1.0))
    took = time.monotonic() - began
    assert error.kind == "timeout"
    assert error.reason == "timed out after 1 s"
    # Never before the deadline (a load can only make it later).
    assert took >= 0.9


def test_dribble_within_the_deadline_is_fine(local_http: LocalHTTPServer) -> None:
    local_http.dribble("/drip", PAGE, interval_seconds=0.01, chunk_size=40)
    assert fetch(local_http.url("/drip")).body == PAGE.encode()


def test_announced_length_over_the_limit_is_refused_before_reading(
    local_http: LocalHTTPServer,
) -> None:
    local_http.big("/big", 10_000_000, "text/html", send_length=True)
    error = fetch_error(local_http.url("/big"))
    assert error.kind == "too_large"
    assert error.reason == (
        "larger than 5 MB: Content-Length is 10,000,000 bytes (limit 5,000,000 bytes)"
    )


def test_streamed_body_over_the_limit_is_abandoned(local_http: LocalHTTPServer) -> None:
    local_http.big("/big", 10_000_000, "text/html", send_length=False)
    tracemalloc.start()
    try:
        error = fetch_error(local_http.url("/big"), settings=config(max_bytes=1_000_000))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert error.kind == "too_large"
    assert error.reason == "larger than 1 MB (limit 1,000,000 bytes)"
    # Never more than the limit and a chunk or two held: nowhere near the 10 MB sent.
    assert peak < 4_000_000


def test_default_limit_with_streamed_body(local_http: LocalHTTPServer) -> None:
    local_http.big("/big", 10_000_000, "text/html", send_length=False)
    error = fetch_error(local_http.url("/big"))
    assert error.reason == "larger than 5 MB (limit 5,000,000 bytes)"


def test_body_up_to_the_limit_is_kept(local_http: LocalHTTPServer) -> None:
    local_http.big("/ok", 300_000, "text/html", send_length=False)
    local_http.big("/exact", 300_000, "text/html", send_length=True)
    settings = config(max_bytes=300_000)
    assert len(fetch(local_http.url("/ok"), settings=settings).body) == 300_000
    assert len(fetch(local_http.url("/exact"), settings=settings).body) == 300_000


# -- content types ------------------------------------------------------------------


@pytest.mark.parametrize("content_type", ["application/pdf", "application/json", "image/png"])
def test_page_must_be_html(local_http: LocalHTTPServer, content_type: str) -> None:
    local_http.add("/doc", PAGE, content_type=content_type)
    error = fetch_error(local_http.url("/doc"))
    assert error.kind == "content_type"
    assert error.reason == f"not an HTML page (content type {content_type})"


@pytest.mark.parametrize("content_type", ["image/png", "application/json", "image/svg+xml"])
def test_feed_must_be_xml(local_http: LocalHTTPServer, content_type: str) -> None:
    local_http.add("/feed", RSS, content_type=content_type)
    error = fetch_error(local_http.url("/feed"), kind="feed")
    assert error.kind == "content_type"
    assert f"content type {content_type}" in error.reason
    assert error.reason.startswith("not a feed")


def test_xhtml_is_a_page(local_http: LocalHTTPServer) -> None:
    local_http.add("/x", PAGE, content_type="application/xhtml+xml")
    assert fetch(local_http.url("/x")).content_type == "application/xhtml+xml"


@pytest.mark.parametrize(
    ("content_type", "body"),
    [
        (None, PAGE),
        ("application/octet-stream", "\n  <HTML lang=en><body>hi</body></HTML>"),
        ("text/plain", "<!-- generated --><div><p>A paragraph</p></div>"),
        ("binary/octet-stream", "\ufeff<!DOCTYPE html><title>x</title>"),
    ],
)
def test_page_without_a_useful_type_is_sniffed(
    local_http: LocalHTTPServer, content_type: str | None, body: str
) -> None:
    local_http.add("/p", body, content_type=content_type)
    page = fetch(local_http.url("/p"))
    assert page.body == body.encode()
    assert page.content_type == content_type


@pytest.mark.parametrize(
    ("content_type", "body"),
    [
        (None, '\ufeff  \n<?xml version="1.0"?><rss/>'),
        ("application/octet-stream", '<feed xmlns="http://www.w3.org/2005/Atom"></feed>'),
        ("text/plain", "<rdf:RDF></rdf:RDF>"),
        ("text/html", RSS),  # servers that label their RSS as HTML
    ],
)
def test_feed_without_a_useful_type_is_sniffed(
    local_http: LocalHTTPServer, content_type: str | None, body: str
) -> None:
    local_http.add("/f", body, content_type=content_type)
    assert fetch(local_http.url("/f"), kind="feed").body == body.encode()


def test_utf16_feed_is_sniffed(local_http: LocalHTTPServer) -> None:
    body = '<?xml version="1.0" encoding="utf-16"?><rss/>'.encode("utf-16")
    local_http.add("/f", body, content_type=None)
    assert fetch(local_http.url("/f"), kind="feed").body == body


@pytest.mark.parametrize(
    ("kind", "content_type", "body", "reason"),
    [
        (
            "page",
            None,
            "%PDF-1.7 binary",
            "not an HTML page (no content type, and the body does not look like one)",
        ),
        (
            "page",
            "text/plain",
            "just words",
            "not an HTML page (content type text/plain, and the body does not look like one)",
        ),
        (
            "feed",
            "application/octet-stream",
            PAGE,
            "not a feed (RSS, Atom or RDF) (content type application/octet-stream, and the "
            "body does not look like one)",
        ),
        (
            "feed",
            "text/html",
            PAGE,
            "not a feed (RSS, Atom or RDF) (content type text/html, and the body does not "
            "look like one)",
        ),
    ],
)
def test_sniffing_rejects_the_wrong_thing(
    local_http: LocalHTTPServer,
    kind: FetchKind,
    content_type: str | None,
    body: str,
    reason: str,
) -> None:
    local_http.add("/x", body, content_type=content_type)
    error = fetch_error(local_http.url("/x"), kind=kind)
    assert (error.kind, error.reason) == ("content_type", reason)


# -- network failures ---------------------------------------------------------------


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_connection_refused() -> None:
    port = closed_port()
    error = fetch_error(f"http://127.0.0.1:{port}/story")
    assert error.kind == "network"
    assert error.reason == f"cannot connect to 127.0.0.1:{port}: Connection refused"


def test_server_that_hangs_up(local_http: LocalHTTPServer) -> None:
    local_http.drop("/hangup")
    error = fetch_error(local_http.url("/hangup"))
    assert error.kind == "network"
    assert "127.0.0.1" in error.reason


def test_unknown_host() -> None:
    # .invalid never resolves (RFC 6761); without DNS at all it fails the same way.
    error = fetch_error("http://no-such-host.invalid/story")
    assert error.kind == "network"
    assert error.reason.startswith("cannot resolve host no-such-host.invalid")


# -- politeness ---------------------------------------------------------------------


def test_requests_to_one_host_are_spaced(local_http: LocalHTTPServer) -> None:
    for name in ("warm", "a", "b", "c"):
        local_http.add(f"/{name}", PAGE)
    network = SendTimes()

    async def go() -> None:
        async with Fetcher(config(host_interval_seconds=0.6), transport=network) as fetcher:
            await fetcher.fetch(local_http.url("/warm"), kind="page")
            await asyncio.gather(
                *(fetcher.fetch(local_http.url(f"/{n}"), kind="page") for n in "abc")
            )

    asyncio.run(go())
    times = network.times()
    assert len(times) == 4 and len(local_http.requests) == 4
    for earlier, later in itertools.pairwise(times):
        assert later - earlier >= 0.6 - JITTER


def test_redirect_hops_are_spaced_too(local_http: LocalHTTPServer) -> None:
    local_http.redirect("/a", "/b")
    local_http.add("/b", PAGE)
    network = SendTimes()
    fetch(local_http.url("/a"), settings=config(host_interval_seconds=0.6), transport=network)
    assert [where.rsplit("/", 1)[1] for where, _ in network.sent] == ["a", "b"]
    first, second = network.times()
    assert second - first >= 0.6 - JITTER


def test_other_hosts_do_not_wait(local_http: LocalHTTPServer) -> None:
    for name in ("warm", "a", "b", "c"):
        local_http.add(f"/{name}", PAGE)
    network = SendTimes()
    with LocalHTTPServer() as other:
        other.add("/x", PAGE)

        async def go() -> None:
            async with Fetcher(config(host_interval_seconds=0.6), transport=network) as fetcher:
                await fetcher.fetch(local_http.url("/warm"), kind="page")
                urls = [local_http.url(f"/{n}") for n in "abc"] + [other.url("/x")]
                await asyncio.gather(*(fetcher.fetch(u, kind="page") for u in urls))

        asyncio.run(go())
        [other_start] = network.times(ending=f":{other.port}/x")
        assert len(other.requests) == 1
    _warm, first, second, third = (
        when for where, when in sorted(network.sent, key=lambda s: s[1]) if "/x" not in where
    )
    assert second - first >= 0.6 - JITTER and third - second >= 0.6 - JITTER
    # The other host's request, queued last, did not wait behind the first host's queue.
    assert other_start < second


def test_localhost_and_127_0_0_1_are_two_hosts(local_http: LocalHTTPServer) -> None:
    for name in "abc":
        local_http.add(f"/{name}", PAGE)
    urls = [
        local_http.url("/a"),
        local_http.url("/b"),
        local_http.url("/c", host="localhost"),
    ]
    network = SendTimes()
    fetch_many(urls, config(host_interval_seconds=0.6), network)
    by_path = {where.rsplit("/", 1)[1]: when for where, when in network.sent}
    assert abs(by_path["b"] - by_path["a"]) >= 0.6 - JITTER
    # The request to "localhost" went while the second one to 127.0.0.1 still waited.
    assert by_path["c"] < max(by_path["a"], by_path["b"])


def test_concurrency_is_capped(local_http: LocalHTTPServer) -> None:
    for n in range(6):
        local_http.slow(f"/s{n}", PAGE, delay_seconds=0.4)
    urls = [local_http.url(f"/s{n}") for n in range(6)]
    began = time.monotonic()
    pages = fetch_many(urls, config(concurrency=2))
    assert len(pages) == 6
    assert local_http.max_in_flight == 2
    assert time.monotonic() - began >= 3 * 0.4


def test_waiting_for_a_slot_does_not_count_against_the_deadline(
    local_http: LocalHTTPServer,
) -> None:
    for n in range(4):
        local_http.slow(f"/s{n}", PAGE, delay_seconds=0.5)
    urls = [local_http.url(f"/s{n}") for n in range(4)]
    # Each request takes 0.5 s of its 1.5 s deadline, one at a time: the last one waits
    # 1.5 s for its turn, which is not part of its own deadline.
    pages = fetch_many(urls, config(concurrency=1, timeout_seconds=1.5))
    assert len(pages) == 4
    assert local_http.max_in_flight == 1


def test_requests_run_concurrently_up_to_the_cap(local_http: LocalHTTPServer) -> None:
    for n in range(4):
        local_http.slow(f"/s{n}", PAGE, delay_seconds=1.0)
    fetch_many([local_http.url(f"/s{n}") for n in range(4)], config(concurrency=4))
    assert local_http.max_in_flight == 4


# -- an injected transport ----------------------------------------------------------


def test_transport_can_be_injected() -> None:
    seen: list[httpx.Request] = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        if request.url.path == "/start":
            return httpx.Response(303, headers={"Location": "https://news.example/end"})
        return httpx.Response(200, headers={"Content-Type": "text/html"}, content=PAGE)

    page = fetch("https://news.example/start", transport=httpx.MockTransport(answer))
    assert page.final_url == "https://news.example/end"
    assert [str(r.url) for r in seen] == [
        "https://news.example/start",
        "https://news.example/end",
    ]
    assert all(r.headers["user-agent"] == FetchConfig().user_agent for r in seen)


def test_invalid_compressed_body_is_a_network_error() -> None:
    def answer(request: httpx.Request) -> httpx.Response:
        headers = {"Content-Type": "text/html", "Content-Encoding": "gzip"}
        return httpx.Response(200, headers=headers, content=b"not gzip at all")

    error = fetch_error("https://news.example/", transport=httpx.MockTransport(answer))
    assert error.kind == "network"
    assert "cannot decode" in error.reason
