"""Which hosts the fetcher may connect to: globally routable unicast only, unless allowed.

A URL that anyone can hand to geobot (``geobot ingest URL``, Discord ``/ingest url:``,
``/feeds add``, the links inside a feed) must not make it read the machine it runs on or
the network behind it: ``http://127.0.0.1:8080/admin``, a cloud metadata service at
``169.254.169.254``, a router at ``192.168.1.1``. :class:`AddressPolicy` refuses every
address that is not globally routable unicast (loopback, private, shared, link-local,
multicast, reserved, unspecified, benchmarking and documentation ranges, and the IPv6
forms that embed such an IPv4 address), every spelling of one (``2130706433``,
``0x7f.1``, ``0177.0.0.1``, ``127.1``, ``[::ffff:127.0.0.1]``...), and the ``localhost``
names, unless ``[fetch] allowed_hosts`` names the host, its address or a range holding it.

The policy is applied twice by the fetcher: to the host of every URL before a request is
made (the first and every redirect hop), and to every address a name resolves to, at
connect time, by the transport that then connects to exactly the address it checked
(index/web/guarded_transport.py). This module does no I/O.
"""

from __future__ import annotations

import contextlib
import ipaddress
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from urllib.parse import unquote

__all__ = [
    "AddressPolicy",
    "AddressRefusedError",
    "IPAddress",
    "normalize_host",
    "parse_ip_literal",
    "refusal_reason",
]

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

ALLOW_HINT = "allow it with [fetch] allowed_hosts"


class AddressRefusedError(Exception):
    """A host or address the policy refuses; `reason` is one line, the hint included.

    Raised below httpx (at connect time) as well as above it, so it is not a
    :class:`~index.errors.GeobotError`: the fetcher turns it into a ``FetchError`` that
    names the URL.
    """

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


# The special-purpose ranges (IANA's IPv4 and IPv6 Special-Purpose Address Registries),
# named, most specific first. Anything else that Python does not call global is refused
# as "not globally routable" by the fallback in `refusal_reason`.
_IPV4_RANGES: tuple[tuple[str, str], ...] = (
    ("0.0.0.0/32", "the unspecified address"),
    ("0.0.0.0/8", "a 'this network' address (0.0.0.0/8)"),
    ("10.0.0.0/8", "a private address (10.0.0.0/8)"),
    ("100.64.0.0/10", "a shared (carrier-grade NAT) address (100.64.0.0/10)"),
    ("127.0.0.0/8", "a loopback address"),
    ("169.254.0.0/16", "a link-local address (169.254.0.0/16, where cloud metadata services are)"),
    ("172.16.0.0/12", "a private address (172.16.0.0/12)"),
    ("192.0.0.0/24", "an IETF protocol assignment (192.0.0.0/24)"),
    ("192.0.2.0/24", "a documentation address (192.0.2.0/24)"),
    ("192.88.99.0/24", "a deprecated 6to4 relay address (192.88.99.0/24)"),
    ("192.168.0.0/16", "a private address (192.168.0.0/16)"),
    ("198.18.0.0/15", "a benchmarking address (198.18.0.0/15)"),
    ("198.51.100.0/24", "a documentation address (198.51.100.0/24)"),
    ("203.0.113.0/24", "a documentation address (203.0.113.0/24)"),
    ("224.0.0.0/4", "a multicast address"),
    ("255.255.255.255/32", "the broadcast address"),
    ("240.0.0.0/4", "a reserved address (240.0.0.0/4)"),
)
_IPV6_RANGES: tuple[tuple[str, str], ...] = (
    ("::/128", "the unspecified address"),
    ("::1/128", "a loopback address"),
    ("64:ff9b:1::/48", "a local-use NAT64 address (64:ff9b:1::/48)"),
    ("100::/64", "a discard-only address (100::/64)"),
    ("2001:2::/48", "a benchmarking address (2001:2::/48)"),
    ("2001:db8::/32", "a documentation address (2001:db8::/32)"),
    ("3fff::/20", "a documentation address (3fff::/20)"),
    ("5f00::/16", "a segment routing (SRv6) address (5f00::/16)"),
    ("fc00::/7", "a unique local (private) address (fc00::/7)"),
    ("fe80::/10", "a link-local address (fe80::/10)"),
    ("fec0::/10", "a site-local address (fec0::/10, deprecated)"),
    ("ff00::/8", "a multicast address"),
)
_NAMED_V4 = tuple((ipaddress.IPv4Network(net), why) for net, why in _IPV4_RANGES)
_NAMED_V6 = tuple((ipaddress.IPv6Network(net), why) for net, why in _IPV6_RANGES)

# IPv6 forms that carry an IPv4 address: the embedded address must pass too.
_IPV4_COMPATIBLE = ipaddress.IPv6Network("::/96")
_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")
_TEREDO = ipaddress.IPv6Network("2001::/32")


def refusal_reason(address: IPAddress) -> str | None:
    """Why `address` may not be fetched by default ("a loopback address"); None if it may.

    Only globally routable unicast passes. An IPv6 address that embeds an IPv4 one (the
    IPv4-mapped ``::ffff:0:0/96``, the deprecated IPv4-compatible ``::/96``, NAT64
    ``64:ff9b::/96``, 6to4 ``2002::/16``, Teredo ``2001::/32``) is judged by that IPv4
    address too, since that is where a packet to it may end up.
    """
    if isinstance(address, ipaddress.IPv4Address):
        return _ipv4_reason(address)
    embedded = _embedded_ipv4(address)
    if embedded is not None:
        inner = _ipv4_reason(embedded)
        if inner is not None:
            return f"{_embedding_kind(address)} of {embedded}, {inner}"
        if address in _TEREDO:
            return "a Teredo tunnel address (2001::/32)"
        if address in _IPV4_COMPATIBLE:
            return "a deprecated IPv4-compatible address (::/96)"
        # IPv4-mapped (the IPv4 address itself, written the IPv6 way), NAT64 and 6to4
        # reach the public IPv4 address they carry.
        return None
    for network, why in _NAMED_V6:
        if address in network:
            return why
    if address.is_reserved:
        return "a reserved address"
    if not address.is_global:
        return "not a globally routable address"
    return None


def _ipv4_reason(address: ipaddress.IPv4Address) -> str | None:
    for network, why in _NAMED_V4:
        if address in network:
            return why
    if address.is_multicast or address.is_reserved or not address.is_global:
        return "not a globally routable address"
    return None


def _embedded_ipv4(address: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address.sixtofour is not None:
        return address.sixtofour
    if address.teredo is not None:
        return address.teredo[1]  # the client's address (the server's is public)
    if address in _NAT64 or (address in _IPV4_COMPATIBLE and int(address) > 1):
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return None


def _embedding_kind(address: ipaddress.IPv6Address) -> str:
    if address.ipv4_mapped is not None:
        return "the IPv4-mapped form"
    if address.sixtofour is not None:
        return "the 6to4 form"
    if address.teredo is not None:
        return "a Teredo form"
    if address in _NAT64:
        return "the NAT64 form"
    return "the IPv4-compatible form"


def parse_ip_literal(host: str) -> IPAddress | None:
    """The address a URL host spells out, in any spelling a resolver accepts; else None.

    IPv4 follows the WHATWG URL standard (what browsers and C's ``inet_aton`` accept):
    one to four dot-separated parts, each decimal, octal (leading ``0``) or hex (``0x``),
    the last filling the remaining bytes, so ``2130706433``, ``0x7f.1``, ``0177.0.0.1``,
    ``127.1`` and ``127.000.000.001`` are all 127.0.0.1. IPv6 may come in brackets, with
    a zone (``fe80::1%25eth0``) and in any zero-padded or mixed form. A trailing dot and
    percent-encoding are undone first. A name (``example.com``) gives None.
    """
    text = unquote(host).strip().lower()
    if text.startswith("[") and text.endswith("]"):
        text = text[1:-1]
    if ":" in text:
        try:
            return ipaddress.IPv6Address(text)
        except ValueError:
            return None
    return _parse_ipv4(text)


def _parse_ipv4(text: str) -> ipaddress.IPv4Address | None:
    parts = text.split(".")
    if len(parts) > 1 and parts[-1] == "":
        parts.pop()  # "127.0.0.1." is 127.0.0.1
    if not 1 <= len(parts) <= 4:
        return None
    numbers: list[int] = []
    for part in parts:
        number = _parse_ipv4_number(part)
        if number is None:
            return None
        numbers.append(number)
    *leading, last = numbers
    if any(n > 255 for n in leading) or last >= 256 ** (5 - len(numbers)):
        return None
    value = last
    for index, number in enumerate(leading):
        value += number << (8 * (3 - index))
    return ipaddress.IPv4Address(value)


def _parse_ipv4_number(part: str) -> int | None:
    if part[:2] in ("0x", "0X"):
        digits, base = part[2:], 16
        if digits == "":
            return 0  # WHATWG: a bare "0x" is zero
    elif len(part) > 1 and part.startswith("0"):
        digits, base = part[1:], 8
    else:
        digits, base = part, 10
    if not digits or not re.fullmatch(r"[0-9a-f]+", digits):
        return None
    try:
        return int(digits, base)
    except ValueError:
        return None  # a digit outside the base: "09", "0x1g"


def normalize_host(host: str) -> str:
    """A host as the policy compares it: lower case, IDNA, no brackets or trailing dot."""
    text = host.strip().lower()
    if text.startswith("[") and text.endswith("]"):
        text = text[1:-1]
    text = text.rstrip(".") if text != "." else text
    if not text.isascii():
        # Not a valid name if it cannot be encoded: then it matches nothing but itself.
        with contextlib.suppress(UnicodeError):
            text = text.encode("idna").decode("ascii")
    return text


def _is_localhost_name(host: str) -> bool:
    # RFC 6761: "localhost" and every name under it are the loopback interface, and
    # resolvers may answer them without asking DNS.
    return host == "localhost" or host.endswith(".localhost")


@dataclass(frozen=True)
class AddressPolicy:
    """Globally routable unicast only, plus the hosts and ranges an operator allowed."""

    allowed_names: frozenset[str] = frozenset()
    """Host names let through whatever they resolve to (normalized: see normalize_host)."""
    allowed_networks: tuple[IPNetwork, ...] = ()
    """Addresses and ranges let through, whatever name led to them."""

    @classmethod
    def allowing(cls, entries: Iterable[str]) -> AddressPolicy:
        """A policy from ``[fetch] allowed_hosts``: names, addresses and CIDR ranges."""
        names: set[str] = set()
        networks: list[IPNetwork] = []
        for entry in entries:
            text = normalize_host(entry)
            try:
                networks.append(ipaddress.ip_network(text, strict=False))
            except ValueError:
                names.add(text)
        return cls(frozenset(names), tuple(networks))

    def name_is_allowed(self, host: str) -> bool:
        return normalize_host(host) in self.allowed_names

    def address_is_allowed(self, address: IPAddress) -> bool:
        if address.version == 6 and address.ipv4_mapped is not None:
            mapped = address.ipv4_mapped
            if any(mapped in network for network in self.allowed_networks):
                return True
        return any(address in network for network in self.allowed_networks)

    def check_host(self, host: str) -> IPAddress | None:
        """Refuse a URL host that is, in any spelling, a refused address or a localhost
        name; return the address it spells out (None for a name to resolve).

        Raises :class:`AddressRefusedError`.
        """
        if self.name_is_allowed(host):
            return parse_ip_literal(host)
        address = parse_ip_literal(host)
        if address is None:
            if _is_localhost_name(normalize_host(host)):
                raise AddressRefusedError(f"{host} is a loopback name ({ALLOW_HINT})")
            return None
        if not self.address_is_allowed(address):
            reason = refusal_reason(address)
            if reason is not None:
                # 2130706433 is 127.0.0.1, ...; an IPv6 address is named as written (its
                # reason names any IPv4 address inside).
                spelled = normalize_host(host)
                plain = spelled == str(address) or address.version == 6
                subject = f"{spelled} is" if plain else f"{spelled} is {address},"
                raise AddressRefusedError(f"{subject} {reason} ({ALLOW_HINT})")
        return address

    def check_resolved(self, host: str, addresses: Sequence[IPAddress]) -> None:
        """Refuse the name `host` if any address it resolved to is refused.

        One refused address refuses the name: a connection could fall back to it.
        """
        if self.name_is_allowed(host):
            return
        for address in addresses:
            if self.address_is_allowed(address):
                continue
            reason = refusal_reason(address)
            if reason is not None:
                raise AddressRefusedError(
                    f"{normalize_host(host)} resolves to {address}, {reason} ({ALLOW_HINT})"
                )
