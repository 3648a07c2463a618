"""The fetcher's network transport: it connects only where the address policy allows.

Checking a URL's host and then letting the HTTP library connect leaves a gap: the
library resolves the name again, and a name server can answer a public address to the
check and ``127.0.0.1`` to the connection (DNS rebinding). Here the check and the
connection are one step, below httpx, where httpcore opens each TCP connection:
:class:`GuardedNetworkBackend` resolves the name once, refuses it if any of its addresses
is refused (:class:`~index.web.address_policy.AddressPolicy`), and connects to the very
addresses it checked. TLS still runs on the connection with the URL's host name, so the
certificate is checked against the name and SNI names it, as before.

:class:`GuardedTransport` is httpx's own transport with that backend under its
connection pool. Both take the resolver and the network backend below them as
collaborators, so tests can play a rebinding name server without leaving the machine.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import Awaitable, Callable, Iterable, Sequence

import httpcore
import httpx

from index.config import FetchConfig
from index.web.address_policy import AddressPolicy, IPAddress

__all__ = ["GuardedNetworkBackend", "GuardedTransport", "Resolver", "system_resolver"]

Resolver = Callable[[str, int], Awaitable[Sequence[IPAddress]]]
"""``(host, port) -> addresses``, in the order to try them; raises OSError if none."""


async def system_resolver(host: str, port: int) -> list[IPAddress]:
    """The operating system's answer for `host` (``getaddrinfo``), IPv4 and IPv6."""
    infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return _unique(
        ipaddress.ip_address(sockaddr[0])
        for family, _type, _proto, _name, sockaddr in infos
        if family in (socket.AF_INET, socket.AF_INET6) and isinstance(sockaddr[0], str)
    )


class GuardedNetworkBackend(httpcore.AsyncNetworkBackend):
    """Resolve once, check every address, connect to a checked address.

    Raises :class:`~index.web.address_policy.AddressRefusedError` for a refused host (it
    passes through httpcore and httpx unchanged), and ``httpcore.ConnectError`` when the
    name does not resolve or no address answers.
    """

    def __init__(
        self,
        policy: AddressPolicy,
        *,
        resolver: Resolver = system_resolver,
        network: httpcore.AsyncNetworkBackend | None = None,
    ) -> None:
        self._policy = policy
        self._resolver = resolver
        self._network = network or httpcore.AnyIOBackend()

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        addresses = await self.checked_addresses(host, port)
        # Tried in turn, as the resolver ordered them (an unreachable IPv6 address fails
        # over to IPv4); each gets a share of the connect timeout, so one address that
        # never answers cannot use up the whole of it.
        share = None if timeout is None else timeout / len(addresses)
        failure: httpcore.ConnectError | httpcore.ConnectTimeout | None = None
        for address in addresses:
            try:
                return await self._network.connect_tcp(
                    str(address),
                    port,
                    timeout=share,
                    local_address=local_address,
                    socket_options=socket_options,
                )
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as exc:
                failure = exc
        assert failure is not None  # checked_addresses never returns an empty list
        raise failure

    async def checked_addresses(self, host: str, port: int) -> list[IPAddress]:
        """The addresses `host` may be reached at, resolved once and all checked."""
        literal = self._policy.check_host(host)
        if literal is not None:
            return [literal]  # connect to the address as parsed, whatever its spelling
        try:
            addresses = _unique(await self._resolver(host, port))
        except OSError as exc:
            raise httpcore.ConnectError(str(exc)) from exc
        if not addresses:
            raise httpcore.ConnectError(f"{host} has no address")
        self._policy.check_resolved(host, addresses)
        return addresses

    async def sleep(self, seconds: float) -> None:
        await self._network.sleep(seconds)


class GuardedTransport(httpx.AsyncHTTPTransport):
    """httpx's HTTP transport over a :class:`GuardedNetworkBackend`, sized by `config`
    (concurrency) and allowing ``config.allowed_hosts``. Proxies are never used: through
    a proxy, the proxy would resolve and connect where no check can see."""

    def __init__(
        self,
        config: FetchConfig,
        *,
        resolver: Resolver = system_resolver,
        network: httpcore.AsyncNetworkBackend | None = None,
    ) -> None:
        limits = httpx.Limits(
            max_connections=config.concurrency,
            max_keepalive_connections=config.concurrency,
        )
        ssl_context = httpx.create_ssl_context()
        super().__init__(verify=ssl_context, limits=limits)
        self.backend = GuardedNetworkBackend(
            AddressPolicy.allowing(config.allowed_hosts), resolver=resolver, network=network
        )
        # httpx has no public way to give its connection pool a network backend
        # (encode/httpx discussion 3180), so the pool it built is replaced by one that
        # has it; requests, responses and errors are still mapped by httpx's own code.
        # The tests through this transport fail if a future httpx renames the pool.
        self._pool = httpcore.AsyncConnectionPool(
            ssl_context=ssl_context,
            max_connections=limits.max_connections,
            max_keepalive_connections=limits.max_keepalive_connections,
            keepalive_expiry=limits.keepalive_expiry,
            network_backend=self.backend,
        )


def _unique(addresses: Iterable[IPAddress]) -> list[IPAddress]:
    return list(dict.fromkeys(addresses))
