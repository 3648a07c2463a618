"""The fetcher refuses internal addresses (issue 13): against real local servers, with the
tests' allow-list switched off, through the real Fetcher, the CLI and the Discord bot.

Traffic never leaves this machine. Where a test needs a "public" host, a fake name
server answers a public address and :class:`LoopbackOnlyNetwork` (the network under the
guarded transport) routes that address to a local server; it refuses to connect anywhere
that is not loopback.
"""

from __future__ import annotations

import asyncio
import ipaddress
import json
import socket
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import httpcore
import httpx
import pytest
from fake_discord import fixtures
from fake_discord.server import FakeDiscord
from local_http import LocalHTTPServer
from test_cli import run
from test_discord_feeds import CORPUS_SIZE, content, make_config, run_bot
from test_polling import feed_text, poll, serve_pages

from bot.discord import GeobotClient
from index import KnowledgeBase
from index.config import FetchConfig, load_config
from index.errors import FetchError
from index.web.address_policy import IPAddress
from index.web.feed_store import FeedStore
from index.web.fetch import FetchedResource, Fetcher
from index.web.guarded_transport import GuardedTransport

fake_discord = fixtures.fake_discord

PAGE = "<!doctype html><html><head><title>Story</title></head><body><p>Text.</p></body></html>"
SECRET = "<!doctype html><html><body><p>internal: the admin password</p></body></html>"
HINT = "(allow it with [fetch] allowed_hosts)"
# Stands for a public web site. It is never contacted: LoopbackOnlyNetwork routes it to
# a local server.
PUBLIC = "93.184.215.14"


class FakeResolver:
    """A name server: each name answers its lists of addresses in turn (the last one
    again and again); an unknown name does not resolve. `calls` logs the names asked."""

    def __init__(self, answers: dict[str, list[list[str]]] | None = None) -> None:
        self._answers = {"localhost": [["127.0.0.1"]], **(answers or {})}
        self.calls: list[str] = []

    async def __call__(self, host: str, port: int) -> Sequence[IPAddress]:
        self.calls.append(host)
        turns = self._answers.get(host)
        if not turns:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        answer = turns.pop(0) if len(turns) > 1 else turns[0]
        return [ipaddress.ip_address(a) for a in answer]


class LoopbackOnlyNetwork(httpcore.AsyncNetworkBackend):
    """The network below the guarded transport: it reaches loopback addresses only.

    `routes` sends a pretend public address to a local server ``(host, port)``. A name
    is resolved with `resolver`, as the operating system would (only a transport that
    connected by name instead of by the address it checked would give it one). Every
    connection asked for is logged in `connects`.
    """

    def __init__(
        self, resolver: FakeResolver, routes: dict[str, tuple[str, int]] | None = None
    ) -> None:
        self._resolver = resolver
        self._routes = routes or {}
        self._real = httpcore.AnyIOBackend()
        self.connects: list[tuple[str, int]] = []

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        self.connects.append((host, port))
        try:
            address = ipaddress.ip_address(host)
        except ValueError:
            address = (await self._resolver(host, port))[0]
        if address.version == 6 and address.ipv4_mapped is not None:
            address = address.ipv4_mapped
        if str(address) in self._routes:
            host, port = self._routes[str(address)]
        elif address.is_loopback:
            host = str(address)
        else:
            raise httpcore.ConnectError(f"{address}: the test network reaches loopback only")
        return await self._real.connect_tcp(
            host, port, timeout=timeout, local_address=local_address, socket_options=socket_options
        )

    async def sleep(self, seconds: float) -> None:
        await self._real.sleep(seconds)


def settings(allowed: Sequence[str] = ()) -> FetchConfig:
    return FetchConfig(
        host_interval_seconds=0.0, timeout_seconds=10.0, allowed_hosts=tuple(allowed)
    )


def fetch(
    url: str, config: FetchConfig, transport: httpx.AsyncBaseTransport | None = None
) -> FetchedResource:
    async def go() -> FetchedResource:
        async with Fetcher(config, transport=transport) as fetcher:
            return await fetcher.fetch(url, kind="page")

    return asyncio.run(go())


def refusal(
    url: str, config: FetchConfig, transport: httpx.AsyncBaseTransport | None = None
) -> str:
    """The reason `url` is refused, checked to be one line naming the URL."""
    with pytest.raises(FetchError) as caught:
        fetch(url, config, transport)
    error = caught.value
    assert error.kind == "refused", str(error)
    assert str(error) == f"{url}: {error.reason}"
    assert "\n" not in str(error) and error.reason.endswith(HINT)
    return error.reason


def guarded(
    config: FetchConfig, resolver: FakeResolver, routes: dict[str, tuple[str, int]] | None = None
) -> tuple[GuardedTransport, LoopbackOnlyNetwork]:
    network = LoopbackOnlyNetwork(resolver, routes)
    return GuardedTransport(config, resolver=resolver, network=network), network


# -- the local server, with the allow-list off --------------------------------------


@pytest.mark.parametrize(
    ("host", "reason"),
    [
        ("127.0.0.1", "127.0.0.1 is a loopback address"),
        ("127.1", "127.1 is 127.0.0.1, a loopback address"),
        ("2130706433", "2130706433 is 127.0.0.1, a loopback address"),
        ("0x7f000001", "0x7f000001 is 127.0.0.1, a loopback address"),
        ("0x7f.0.0.1", "0x7f.0.0.1 is 127.0.0.1, a loopback address"),
        ("0177.0.0.1", "0177.0.0.1 is 127.0.0.1, a loopback address"),
        ("127.000.000.001", "127.000.000.001 is 127.0.0.1, a loopback address"),
        ("127.0.0.1.", "127.0.0.1 is a loopback address"),
        ("0.0.0.0", "0.0.0.0 is the unspecified address"),
        ("0", "0 is 0.0.0.0, the unspecified address"),
        (
            "[::ffff:127.0.0.1]",
            "::ffff:127.0.0.1 is the IPv4-mapped form of 127.0.0.1, a loopback address",
        ),
        (
            "[::ffff:7f00:1]",
            "::ffff:7f00:1 is the IPv4-mapped form of 127.0.0.1, a loopback address",
        ),
        ("[::1]", "::1 is a loopback address"),
        ("[0:0:0:0:0:0:0:1]", "0:0:0:0:0:0:0:1 is a loopback address"),
        ("localhost", "localhost is a loopback name"),
        ("localhost.", "localhost. is a loopback name"),
        ("LocalHost", "localhost is a loopback name"),
        ("www.localhost", "www.localhost is a loopback name"),
    ],
)
def test_the_local_server_is_refused_in_every_spelling(
    local_http: LocalHTTPServer, host: str, reason: str
) -> None:
    local_http.add("/story", SECRET)
    url = f"http://{host}:{local_http.port}/story"
    # The default Fetcher, with its real transport and the system's resolver.
    assert refusal(url, settings()) == f"refused: {reason} {HINT}"
    assert local_http.requests == []


@pytest.mark.parametrize(
    ("url", "why"),
    [
        ("http://10.0.0.1/", "a private address"),
        ("http://172.16.5.4/", "a private address"),
        ("http://192.168.1.1/", "a private address"),
        ("http://3232235777/", "192.168.1.1, a private address"),
        ("http://[fd00::1]/", "a unique local (private) address"),
        ("http://169.254.169.254/latest/meta-data/", "a link-local address"),
        ("http://2852039166/latest/meta-data/", "169.254.169.254, a link-local address"),
        ("http://0xa9.0xfe.0xa9.0xfe/", "169.254.169.254, a link-local address"),
        ("http://169.254.43518/", "169.254.169.254, a link-local address"),
        ("http://[fe80::1]/", "a link-local address"),
        ("http://[::ffff:169.254.169.254]/", "the IPv4-mapped form of 169.254.169.254"),
        ("http://[64:ff9b::a9fe:a9fe]/", "the NAT64 form of 169.254.169.254"),
        ("http://[2002:a9fe:a9fe::1]/", "the 6to4 form of 169.254.169.254"),
        ("http://[::10.0.0.1]/", "the IPv4-compatible form of 10.0.0.1"),
        ("http://100.64.0.1/", "a shared (carrier-grade NAT) address"),
        ("http://224.0.0.1/", "a multicast address"),
        ("http://[ff02::1]/", "a multicast address"),
        ("http://240.0.0.1/", "a reserved address"),
        ("http://255.255.255.255/", "the broadcast address"),
        ("http://[::]/", "the unspecified address"),
        ("http://198.18.0.1/", "a benchmarking address"),
        ("http://192.0.2.10/", "a documentation address"),
        ("http://[2001:db8::1]/", "a documentation address"),
        ("https://10.0.0.1:8443/", "a private address"),
    ],
)
def test_every_non_public_address_class_is_refused_before_connecting(url: str, why: str) -> None:
    resolver = FakeResolver()
    transport, network = guarded(settings(), resolver)
    reason = refusal(url, settings(), transport)
    assert why in reason
    assert network.connects == [] and resolver.calls == []


# -- the allow-list on --------------------------------------------------------------


@pytest.mark.parametrize(
    ("allowed", "host"),
    [
        (["127.0.0.1"], "127.0.0.1"),
        (["127.0.0.0/8"], "2130706433"),
        (["127.0.0.0/8"], "0x7f.1"),
        (["::ffff:127.0.0.0/104"], "[::ffff:127.0.0.1]"),
        (["localhost"], "localhost"),
        (["LOCALHOST."], "LocalHost"),
    ],
)
def test_allowed_hosts_let_the_local_server_through(
    local_http: LocalHTTPServer, allowed: list[str], host: str
) -> None:
    local_http.add("/story", PAGE)
    page = fetch(f"http://{host}:{local_http.port}/story", settings(allowed))
    assert page.status == 200 and page.body == PAGE.encode()
    assert len(local_http.requests) == 1


def test_allowed_hosts_from_the_environment_let_the_local_server_through(
    local_http: LocalHTTPServer,
) -> None:
    local_http.add("/story", PAGE)
    url = local_http.url("/story")
    assert "loopback" in refusal(url, load_config(environ={}).fetch)
    config: FetchConfig = load_config(
        environ={"GEOBOT_FETCH__ALLOWED_HOSTS": '["127.0.0.1"]'}
    ).fetch
    assert fetch(url, config).body == PAGE.encode()
    assert len(local_http.requests) == 1


# -- names: every address they resolve to -------------------------------------------


def test_a_name_that_resolves_to_an_internal_address_is_refused(
    local_http: LocalHTTPServer,
) -> None:
    local_http.add("/story", SECRET)
    url = f"http://intranet.test:{local_http.port}/story"

    def attempt(allowed: Sequence[str]) -> tuple[Any, LoopbackOnlyNetwork]:
        resolver = FakeResolver({"intranet.test": [["127.0.0.1"]]})
        transport, network = guarded(settings(allowed), resolver)
        try:
            return fetch(url, settings(allowed), transport), network
        except FetchError as error:
            return error, network

    error, network = attempt(())
    assert isinstance(error, FetchError) and error.kind == "refused"
    assert error.reason == (
        f"refused: intranet.test resolves to 127.0.0.1, a loopback address {HINT}"
    )
    assert network.connects == [] and local_http.requests == []

    for allowed in (["intranet.test"], ["127.0.0.1"], ["127.0.0.0/8"]):
        page, network = attempt(allowed)
        assert isinstance(page, FetchedResource) and page.body == SECRET.encode()
        assert network.connects == [("127.0.0.1", local_http.port)]  # the checked address
    assert len(local_http.requests) == 3


def test_one_internal_address_among_public_ones_refuses_the_name() -> None:
    resolver = FakeResolver({"mixed.test": [[PUBLIC, "10.1.2.3"]]})
    transport, network = guarded(settings(), resolver)
    reason = refusal("https://mixed.test/story", settings(), transport)
    assert reason == (
        f"refused: mixed.test resolves to 10.1.2.3, a private address (10.0.0.0/8) {HINT}"
    )
    assert network.connects == []


def test_a_public_name_is_fetched_from_the_address_checked(local_http: LocalHTTPServer) -> None:
    local_http.add("/story", PAGE)
    resolver = FakeResolver({"news.test": [[PUBLIC]]})
    transport, network = guarded(
        settings(), resolver, routes={PUBLIC: ("127.0.0.1", local_http.port)}
    )
    page = fetch("http://news.test/story", settings(), transport)
    assert page.body == PAGE.encode()
    assert network.connects == [(PUBLIC, 80)]
    assert local_http.requests[0].header("host") == "news.test"


def test_the_next_checked_address_is_tried_when_one_does_not_answer(
    local_http: LocalHTTPServer,
) -> None:
    # Nothing listens on [::1] at the server's port: the connection fails over to
    # 127.0.0.1, the name's second address.
    local_http.add("/story", PAGE)
    resolver = FakeResolver({"dual.test": [["::1", "127.0.0.1"]]})
    config = settings(["::1", "127.0.0.1"])
    transport, network = guarded(config, resolver)
    page = fetch(f"http://dual.test:{local_http.port}/story", config, transport)
    assert page.body == PAGE.encode()
    assert network.connects == [("::1", local_http.port), ("127.0.0.1", local_http.port)]


def test_a_name_that_does_not_resolve_is_a_network_error() -> None:
    transport, network = guarded(settings(), FakeResolver())
    with pytest.raises(FetchError) as caught:
        fetch("http://nowhere.test/story", settings(), transport)
    assert caught.value.kind == "network"
    assert caught.value.reason == "cannot resolve host nowhere.test: Name or service not known"
    assert network.connects == []


def test_dns_rebinding_cannot_reach_the_internal_server() -> None:
    """The name answers a public address first and 127.0.0.1 afterwards: the connection
    goes to the address that was checked, never to a second answer."""
    with LocalHTTPServer() as public_site, LocalHTTPServer() as internal:
        public_site.add("/story", PAGE)
        internal.add("/story", SECRET)
        url = f"http://rebind.test:{internal.port}/story"
        resolver = FakeResolver({"rebind.test": [[PUBLIC], ["127.0.0.1"]]})
        routes = {PUBLIC: ("127.0.0.1", public_site.port)}

        transport, network = guarded(settings(), resolver, routes)
        page = fetch(url, settings(), transport)
        assert page.body == PAGE.encode()
        assert resolver.calls == ["rebind.test"]  # resolved once, for check and connect
        assert network.connects == [(PUBLIC, internal.port)]

        # Asked again (a new connection), the name now says 127.0.0.1: refused.
        transport, network = guarded(settings(), resolver, routes)
        reason = refusal(url, settings(), transport)
        assert reason == f"refused: rebind.test resolves to 127.0.0.1, a loopback address {HINT}"
        assert network.connects == []

        assert len(public_site.requests) == 1
        assert internal.requests == []


# -- redirects: every hop -----------------------------------------------------------


@pytest.mark.parametrize(
    ("location", "reason"),
    [
        ("http://127.0.0.2:{port}/secret", "127.0.0.2 is a loopback address"),
        ("http://2130706434:{port}/secret", "2130706434 is 127.0.0.2, a loopback address"),
        ("http://0x7f.0.0.2:{port}/secret", "0x7f.0.0.2 is 127.0.0.2, a loopback address"),
        ("http://127.2:{port}/secret", "127.2 is 127.0.0.2, a loopback address"),
        (
            "http://[::ffff:127.0.0.2]:{port}/secret",
            "::ffff:127.0.0.2 is the IPv4-mapped form of 127.0.0.2, a loopback address",
        ),
        ("http://internal.test:{port}/secret", "internal.test resolves to 127.0.0.2"),
        ("http://localhost:{port}/secret", "localhost is a loopback name"),
    ],
)
def test_a_redirect_to_a_refused_address_is_refused_at_that_hop(
    local_http: LocalHTTPServer, location: str, reason: str
) -> None:
    with LocalHTTPServer(host="127.0.0.2") as internal:
        internal.add("/secret", SECRET)
        target = location.format(port=internal.port)
        local_http.redirect("/start", target)
        start = local_http.url("/start")
        resolver = FakeResolver({"internal.test": [["127.0.0.2"]]})
        only_the_first = settings(["127.0.0.1"])
        transport, _network = guarded(only_the_first, resolver)

        refused = refusal(start, only_the_first, transport)
        assert refused.startswith(f"redirected to {target}: refused: {reason}")
        assert [r.path for r in local_http.requests] == ["/start"]
        assert internal.requests == []

        # The same redirect is followed once the second server is allowed too: the
        # refusal above was the policy, not an unreachable server. (localhost is not on
        # 127.0.0.2: that one is followed to the server's own address.)
        both = settings(["127.0.0.1", "127.0.0.2", "localhost"])
        if "localhost" in target:
            local_http.redirect("/start", internal.url("/secret"))
        transport, _network = guarded(both, resolver)
        assert fetch(start, both, transport).body == SECRET.encode()
        assert len(internal.requests) == 1


def test_a_redirect_to_an_address_httpx_cannot_parse_is_not_followed(
    local_http: LocalHTTPServer,
) -> None:
    with LocalHTTPServer(host="127.0.0.2") as internal:
        internal.add("/secret", SECRET)
        local_http.redirect("/start", f"http://0177.0.0.2:{internal.port}/secret")
        with pytest.raises(FetchError) as caught:
            fetch(local_http.url("/start"), settings(["127.0.0.1"]))
        assert "Invalid IPv4 address: '0177.0.0.2'" in caught.value.reason
        assert internal.requests == []


def test_redirect_hops_are_checked_whatever_the_transport() -> None:
    seen: list[str] = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(str(request.url))
        location = "http://169.254.169.254/latest/meta-data/"
        return httpx.Response(302, headers={"Location": location})

    reason = refusal("https://news.example/start", settings(), httpx.MockTransport(answer))
    assert reason == (
        "redirected to http://169.254.169.254/latest/meta-data/: refused: 169.254.169.254 is "
        f"a link-local address (169.254.0.0/16, where cloud metadata services are) {HINT}"
    )
    assert seen == ["https://news.example/start"]


# -- feeds, the CLI and Discord -----------------------------------------------------


def test_feed_entries_linking_to_internal_addresses_are_not_fetched(
    kb: KnowledgeBase, local_http: LocalHTTPServer
) -> None:
    # The feed's host is allowed (the `kb` fixture allows the local servers on
    # 127.0.0.1); its entries point at a server on 127.0.0.2, which is not.
    with LocalHTTPServer(host="127.0.0.2") as internal:
        serve_pages(internal)
        local_http.add(
            "/rss.xml", feed_text("rss20.xml", internal), content_type="application/rss+xml"
        )
        FeedStore(kb.store).add(local_http.url("/rss.xml"))
        report = poll(kb)
        [feed] = report.feeds
        assert feed.error is None
        problems = [f.reason for f in (*feed.failed, *feed.from_feed_content)]
        assert problems and all("127.0.0.2 is a loopback address" in p for p in problems)
        assert internal.requests == []


def test_cli_ingest_of_an_internal_url_is_refused_in_one_line(
    tmp_path: Path, local_http: LocalHTTPServer
) -> None:
    data = tmp_path / "data"
    serve_pages(local_http)
    page = "/asia/mekong-dam.html"
    for url in (local_http.url(page), f"http://2130706433:{local_http.port}{page}"):
        result = run("ingest", url, data_dir=data)
        assert result.exit_code == 1
        assert "added 0, updated 0, unchanged 0, failed 1" in result.output
        [line] = [line for line in result.output.splitlines() if "refused" in line]
        assert line.strip() == f"failed: {url}: refused: {line.split('refused: ', 1)[1]}"
        assert "a loopback address (allow it with [fetch] allowed_hosts)" in line
    assert local_http.requests == []
    assert json.loads(run("sources", "--json", data_dir=data).stdout) == []

    allowed = {"GEOBOT_FETCH__ALLOWED_HOSTS": '["127.0.0.1"]', "GEOBOT_FETCH__TIMEOUT_SECONDS": "5"}
    result = run("ingest", local_http.url(page), data_dir=data, env=allowed)
    assert result.exit_code == 0 and "added 1" in result.output
    assert len(local_http.requests) == 1


def test_discord_ingest_of_an_internal_url_is_refused(
    fake_discord: FakeDiscord, local_http: LocalHTTPServer, tmp_path: Path
) -> None:
    serve_pages(local_http)
    bot_config = make_config(tmp_path, fake_discord, poll_feeds=False)
    config = bot_config.model_copy(
        update={"fetch": bot_config.fetch.model_copy(update={"allowed_hosts": ()})}
    )
    url = local_http.url("/asia/mekong-dam.html")
    metadata = "http://169.254.169.254/latest/meta-data/iam/security-credentials/"

    async def body(client: GeobotClient) -> None:
        for target, why in ((url, "127.0.0.1 is a loopback address"), (metadata, "link-local")):
            sent = await fake_discord.send_command(
                "ingest", {"url": target}, user=fake_discord.admin
            )
            reply = content(await sent.next("followup"))
            assert "added 0" in reply and "failed 1" in reply
            assert "refused" in reply and why in reply
        assert client.backend.kb.article_count() == CORPUS_SIZE

    run_bot(fake_discord, config, body)
    assert local_http.requests == []


def test_a_feed_on_an_internal_address_is_refused_when_added(tmp_path: Path) -> None:
    data = tmp_path / "data"
    for url, why in (
        ("http://127.0.0.1:8080/rss.xml", "127.0.0.1 is a loopback address"),
        ("http://2130706433/rss.xml", "2130706433 is 127.0.0.1, a loopback address"),
        ("http://169.254.169.254/latest/meta-data/", "link-local"),
        ("http://localhost./feed", "loopback name"),
    ):
        result = run("feeds", "add", url, data_dir=data)
        assert result.exit_code == 1, result.output
        assert result.output.count("\n") == 1 and "Traceback" not in result.output
        assert f"{url}: refused: " in result.output and why in result.output
    assert json.loads(run("feeds", "list", "--json", data_dir=data).stdout) == []

    allowed = {"GEOBOT_FETCH__ALLOWED_HOSTS": '["127.0.0.1"]'}
    result = run("feeds", "add", "http://127.0.0.1:8080/rss.xml", data_dir=data, env=allowed)
    assert result.exit_code == 0 and "added feed" in result.output


def test_discord_feeds_add_of_an_internal_address_is_refused(
    fake_discord: FakeDiscord, tmp_path: Path
) -> None:
    bot_config = make_config(tmp_path, fake_discord, poll_feeds=False)
    config = bot_config.model_copy(
        update={"fetch": bot_config.fetch.model_copy(update={"allowed_hosts": ()})}
    )

    async def body(client: GeobotClient) -> None:
        for url in ("http://0x7f.1/rss.xml", "http://[::ffff:10.0.0.1]/rss.xml"):
            sent = await fake_discord.send_command(
                "feeds add", {"url": url}, user=fake_discord.admin
            )
            reply = await sent.next("callback")
            assert "refused" in content(reply), content(reply)
        assert client.feeds.all() == []

    run_bot(fake_discord, config, body)
