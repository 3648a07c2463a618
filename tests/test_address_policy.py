"""The address policy (index/web/address_policy.py): which hosts the fetcher may reach.

Pure functions over tables of spellings; no network. The fetcher's use of it, against
real local servers, is in tests/test_fetch_addresses.py.
"""

from __future__ import annotations

import ipaddress

import pytest

from index.config import FetchConfig, load_config
from index.errors import ConfigError
from index.web.address_policy import (
    AddressPolicy,
    AddressRefusedError,
    parse_ip_literal,
    refusal_reason,
)

HINT = "(allow it with [fetch] allowed_hosts)"

# host as it may appear in a URL -> the address it spells
SPELLINGS = {
    "127.0.0.1": "127.0.0.1",
    "127.1": "127.0.0.1",
    "127.0.1": "127.0.0.1",
    "2130706433": "127.0.0.1",
    "0x7f000001": "127.0.0.1",
    "0x7F.1": "127.0.0.1",
    "0x7f.0x0.0x0.0x1": "127.0.0.1",
    "0177.0.0.1": "127.0.0.1",
    "0177.0.0.01": "127.0.0.1",
    "017700000001": "127.0.0.1",
    "127.000.000.001": "127.0.0.1",
    "127.0.0.1.": "127.0.0.1",
    "%31%32%37.0.0.1": "127.0.0.1",
    "0": "0.0.0.0",
    "0x": "0.0.0.0",
    "167772161": "10.0.0.1",
    "012.0.0.1": "10.0.0.1",
    "0xc0.0xa8.1.1": "192.168.1.1",
    "3232235777": "192.168.1.1",
    "169.254.43518": "169.254.169.254",
    "0xa9fea9fe": "169.254.169.254",
    "2852039166": "169.254.169.254",
    "134744072": "8.8.8.8",
    "1.16777215": "1.255.255.255",
    "[::1]": "::1",
    "::1": "::1",
    "[0:0:0:0:0:0:0:1]": "::1",
    "[0000:0000:0000:0000:0000:0000:0000:0001]": "::1",
    "[::ffff:127.0.0.1]": "::ffff:7f00:1",
    "[::FFFF:7F00:1]": "::ffff:7f00:1",
    "[fe80::1%25eth0]": "fe80::1%eth0",
}

NOT_ADDRESSES = [
    "example.com",
    "news.example",
    "localhost",
    "127.0.0.1.nip.io",
    "1.2.3.4.5",  # five parts: a name (that will not resolve)
    "256.1.1.1",  # a part over 255
    "1.16777216",  # the last part too large for the bytes left
    "09.1.1.1",  # 9 is not an octal digit
    "0x1g.1.1.1",
    "[not:an:address]",
    "",
]

# address -> the words that say why it is refused
REFUSED = {
    # loopback
    "127.0.0.1": "a loopback address",
    "127.255.255.254": "a loopback address",
    "::1": "a loopback address",
    # unspecified and "this network"
    "0.0.0.0": "the unspecified address",
    "0.1.2.3": "'this network'",
    "::": "the unspecified address",
    # private (RFC 1918) and unique local
    "10.0.0.1": "a private address (10.0.0.0/8)",
    "172.16.0.1": "a private address (172.16.0.0/12)",
    "172.31.255.255": "a private address (172.16.0.0/12)",
    "192.168.1.1": "a private address (192.168.0.0/16)",
    "fc00::1": "a unique local (private) address",
    "fd12:3456:789a::1": "a unique local (private) address",
    # link-local, cloud metadata included
    "169.254.169.254": "a link-local address",
    "169.254.0.1": "a link-local address",
    "fe80::1": "a link-local address",
    "fe80::1%eth0": "a link-local address",
    "fec0::1": "a site-local address",
    # shared address space (carrier-grade NAT)
    "100.64.0.1": "a shared (carrier-grade NAT) address",
    "100.127.255.254": "a shared (carrier-grade NAT) address",
    # multicast and broadcast
    "224.0.0.1": "a multicast address",
    "239.255.255.250": "a multicast address",
    "224.0.1.1": "a multicast address",  # Python calls this one global
    "ff02::1": "a multicast address",
    "ff0e::1": "a multicast address",
    "255.255.255.255": "the broadcast address",
    # reserved, protocol assignments, benchmarking, documentation, discard
    "240.0.0.1": "a reserved address",
    "192.0.0.8": "an IETF protocol assignment",
    "192.88.99.1": "6to4 relay",
    "198.18.0.1": "a benchmarking address",
    "198.19.255.255": "a benchmarking address",
    "2001:2::1": "a benchmarking address",
    "192.0.2.1": "a documentation address",
    "198.51.100.7": "a documentation address",
    "203.0.113.9": "a documentation address",
    "2001:db8::1": "a documentation address",
    "3fff::1": "a documentation address",
    "100::1": "a discard-only address",
    "64:ff9b:1::1": "a local-use NAT64 address",
    "::1:0:0:0": "a reserved address",
    # IPv6 forms that carry a refused IPv4 address
    "::ffff:127.0.0.1": "the IPv4-mapped form of 127.0.0.1, a loopback address",
    "::ffff:169.254.169.254": "the IPv4-mapped form of 169.254.169.254, a link-local",
    "::ffff:10.1.2.3": "the IPv4-mapped form of 10.1.2.3, a private address",
    "::127.0.0.1": "the IPv4-compatible form of 127.0.0.1, a loopback address",
    "64:ff9b::127.0.0.1": "the NAT64 form of 127.0.0.1, a loopback address",
    "64:ff9b::a9fe:a9fe": "the NAT64 form of 169.254.169.254, a link-local",
    "2002:7f00:1::": "the 6to4 form of 127.0.0.1, a loopback address",
    "2002:c0a8:101::1": "the 6to4 form of 192.168.1.1, a private address",
    "2001:0:4136:e378::80ff:fffe": "a Teredo form of 127.0.0.1, a loopback address",
    # ... or a public one in a form that is not routed as such
    "::8.8.8.8": "a deprecated IPv4-compatible address",
    "2001:0:4136:e378::f7f7:f7f7": "a Teredo tunnel address",
}

PUBLIC = [
    "8.8.8.8",
    "1.1.1.1",
    "93.184.215.14",
    "100.63.255.255",  # just below the shared range
    "100.128.0.0",  # just above it
    "172.15.255.255",
    "172.32.0.0",
    "2606:4700:4700::1111",
    "2a00:1450:4001::200e",
    "::ffff:8.8.8.8",  # IPv4-mapped: the public IPv4 address itself
    "64:ff9b::8.8.8.8",  # NAT64 of a public address
    "2002:808:808::1",  # 6to4 of a public address
]


@pytest.mark.parametrize(("host", "address"), SPELLINGS.items())
def test_every_spelling_of_an_address_is_read(host: str, address: str) -> None:
    assert parse_ip_literal(host) == ipaddress.ip_address(address)


@pytest.mark.parametrize("host", NOT_ADDRESSES)
def test_names_and_broken_numbers_are_not_addresses(host: str) -> None:
    assert parse_ip_literal(host) is None


@pytest.mark.parametrize(("address", "why"), REFUSED.items())
def test_non_public_addresses_are_refused(address: str, why: str) -> None:
    reason = refusal_reason(ipaddress.ip_address(address))
    assert reason is not None and why in reason


@pytest.mark.parametrize("address", PUBLIC)
def test_public_unicast_addresses_pass(address: str) -> None:
    assert refusal_reason(ipaddress.ip_address(address)) is None


def refused(policy: AddressPolicy, host: str) -> str:
    with pytest.raises(AddressRefusedError) as caught:
        policy.check_host(host)
    reason = caught.value.reason
    assert "\n" not in reason and reason.endswith(HINT)
    return reason


@pytest.mark.parametrize(
    ("host", "reason"),
    [
        ("127.0.0.1", "127.0.0.1 is a loopback address"),
        ("2130706433", "2130706433 is 127.0.0.1, a loopback address"),
        ("0x7f.1", "0x7f.1 is 127.0.0.1, a loopback address"),
        ("0177.0.0.1", "0177.0.0.1 is 127.0.0.1, a loopback address"),
        ("127.1", "127.1 is 127.0.0.1, a loopback address"),
        ("127.0.0.1.", "127.0.0.1 is a loopback address"),
        ("[::1]", "::1 is a loopback address"),
        ("0:0:0:0:0:0:0:1", "0:0:0:0:0:0:0:1 is a loopback address"),
        ("localhost", "localhost is a loopback name"),
        ("localhost.", "localhost. is a loopback name"),
        ("LocalHost", "LocalHost is a loopback name"),
        ("admin.localhost", "admin.localhost is a loopback name"),
        ("169.254.169.254", "169.254.169.254 is a link-local address"),
        ("0", "0 is 0.0.0.0, the unspecified address"),
        (
            "[::ffff:192.168.0.1]",
            "::ffff:192.168.0.1 is the IPv4-mapped form of 192.168.0.1, a private address",
        ),
    ],
)
def test_a_refusal_is_one_line_that_says_why(host: str, reason: str) -> None:
    assert refused(AddressPolicy(), host).startswith(reason)


def test_names_are_left_to_the_resolver_and_public_addresses_pass() -> None:
    policy = AddressPolicy()
    assert policy.check_host("news.example") is None
    assert policy.check_host("localhost.example.com") is None
    assert policy.check_host("134744072") == ipaddress.ip_address("8.8.8.8")
    assert policy.check_host("[2606:4700:4700::1111]") == ipaddress.ip_address(
        "2606:4700:4700::1111"
    )


def test_allowed_hosts_let_names_addresses_and_ranges_through() -> None:
    policy = AddressPolicy.allowing(
        ["LOCALHOST.", "intranet.example.org", "10.20.0.0/16", "127.0.0.1", "[fd00::1]"]
    )
    assert policy.check_host("localhost") is None
    assert policy.check_host("Intranet.Example.Org.") is None
    assert policy.check_host("10.20.3.4") == ipaddress.ip_address("10.20.3.4")
    assert policy.check_host("2130706433") == ipaddress.ip_address("127.0.0.1")
    assert policy.check_host("::ffff:127.0.0.1") is not None  # the same address
    assert policy.check_host("[fd00::1]") == ipaddress.ip_address("fd00::1")
    # Neighbours of what was allowed are not.
    assert "10.21.0.1 is a private address" in refused(policy, "10.21.0.1")
    assert "127.0.0.2 is a loopback address" in refused(policy, "127.0.0.2")
    assert "app.localhost is a loopback name" in refused(policy, "app.localhost")
    # An allowed address does not allow a localhost name: names are named.
    assert "loopback name" in refused(AddressPolicy.allowing(["127.0.0.0/8"]), "localhost")


def test_a_name_is_refused_if_any_of_its_addresses_is() -> None:
    policy = AddressPolicy.allowing(["10.20.0.0/16", "intranet.example.org"])
    public = ipaddress.ip_address("93.184.215.14")
    allowed = ipaddress.ip_address("10.20.0.5")
    metadata = ipaddress.ip_address("169.254.169.254")
    policy.check_resolved("news.example", [public, allowed])
    with pytest.raises(AddressRefusedError) as caught:
        policy.check_resolved("news.example.", [public, metadata])
    assert caught.value.reason == (
        "news.example resolves to 169.254.169.254, a link-local address "
        f"(169.254.0.0/16, where cloud metadata services are) {HINT}"
    )
    # A name in the allow-list goes wherever it resolves.
    policy.check_resolved("intranet.example.org", [metadata])


# -- the setting ----------------------------------------------------------------------


def test_allowed_hosts_is_empty_by_default() -> None:
    assert FetchConfig().allowed_hosts == ()
    assert load_config(environ={}).fetch.allowed_hosts == ()


def test_allowed_hosts_from_the_environment_as_a_json_list_or_a_comma_list() -> None:
    as_json = {"GEOBOT_FETCH__ALLOWED_HOSTS": '["127.0.0.1", "10.0.0.0/8", "intranet.corp"]'}
    assert load_config(environ=as_json).fetch.allowed_hosts == (
        "127.0.0.1",
        "10.0.0.0/8",
        "intranet.corp",
    )
    as_text = {"GEOBOT_FETCH__ALLOWED_HOSTS": "127.0.0.1, localhost"}
    assert load_config(environ=as_text).fetch.allowed_hosts == ("127.0.0.1", "localhost")


@pytest.mark.parametrize("entry", ["http://intranet/", "10.0.0.0/33", "two words", ""])
def test_a_bad_allowed_host_is_a_config_error(entry: str) -> None:
    environ = {"GEOBOT_FETCH__ALLOWED_HOSTS": f'["{entry}"]'}
    with pytest.raises(ConfigError) as caught:
        load_config(environ=environ)
    assert "fetch.allowed_hosts" in str(caught.value)
    assert "not a host name, an IP address or a CIDR range" in str(caught.value)
