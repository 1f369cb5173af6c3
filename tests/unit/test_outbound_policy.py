"""Which addresses the outbound policy allows: global unicast only, one row per form
(docs/security.md, "Outbound connections").

The policy is an allow-list: IPv4 outside the special-purpose blocks, IPv6 inside
``2000::/3`` outside its special blocks, and the IPv6 forms that deliver to an IPv4
address (mapped, NAT64, 6to4) only when that IPv4 address is itself allowed. Every other
IPv6 address is denied, whatever it looks like: the rows below under "outside 2000::/3"
are spellings of loopback and private addresses a deny-list of known blocks let through.
"""

import pytest

from integration_hub.outbound.policy import address_denied

PUBLIC_V4 = "93.184.216.34"  # 5db8:d822 in hexadecimal

DENIED = {
    # IPv4 special-purpose blocks
    "loopback": "127.0.0.1", "loopback-high": "127.255.255.254", "this-network": "0.1.2.3",
    "private-10": "10.0.0.1", "private-172": "172.31.255.254", "private-192": "192.168.0.1",
    "shared-cgnat": "100.64.0.1", "link-local-metadata": "169.254.169.254",
    "protocol-assignments": "192.0.0.9", "documentation": "198.51.100.7",
    "benchmarking": "198.19.255.1", "6to4-relay": "192.88.99.1", "multicast": "224.0.0.251",
    "reserved": "240.0.0.1", "broadcast": "255.255.255.255",
    # IPv4 carried in IPv6, judged by the IPv4 address
    "mapped-loopback": "::ffff:127.0.0.1", "mapped-metadata": "::ffff:169.254.169.254",
    "nat64-loopback": "64:ff9b::7f00:1", "nat64-private": "64:ff9b::10.0.0.1",
    "nat64-cgnat": "64:ff9b::100.64.0.1",
    "6to4-loopback": "2002:7f00:1::", "6to4-private": "2002:a00:1::1",
    "6to4-metadata": "2002:a9fe:a9fe::1", "6to4-cgnat-subnet": "2002:6440:1:ffff::1",
    # outside 2000::/3: translated, compatible, local-use NAT64 and unassigned forms
    "translated-loopback": "::ffff:0:7f00:1", "translated-private": "::ffff:0:a00:1",
    "translated-public": f"::ffff:0:{PUBLIC_V4}", "compatible-loopback": "::127.0.0.1",
    "compatible-public": f"::{PUBLIC_V4}", "embedded-loopback": "::2:7f00:1",
    "local-nat64-public": f"64:ff9b:1::{PUBLIC_V4}", "local-nat64-loopback": "64:ff9b:1::7f00:1",
    "loopback-v6": "::1", "unspecified-v6": "::", "discard-only": "100::1",
    "unassigned-0100": "1::1", "unassigned-4000": "4000::1", "unassigned-c000": "c000::1",
    "unassigned-e000": "e000::7f00:1", "segment-routing": "5f00::1",
    "unique-local": "fd12:3456::1", "link-local-zone": "fe80::1%eth0", "site-local": "fec0::1",
    "multicast-v6": "ff02::1",
    # special blocks inside 2000::/3
    "teredo": "2001:0:4136:e378:8000:63bf:3fff:fdd2", "teredo-loopback": "2001:0:7f00:1::",
    "teredo-public-server": "2001:0:5db8:d822::f5ff:fffe", "benchmarking-v6": "2001:2::1",
    "orchid": "2001:10::1", "documentation-v6": "2001:db8::1", "documentation-3fff": "3fff::1",
}

ALLOWED = {
    "public-v4": PUBLIC_V4, "cloudflare-v4": "1.1.1.1", "below-cgnat": "100.63.255.255",
    "above-cgnat": "100.128.0.1", "above-private-172": "172.32.0.1",
    "public-v6": "2606:4700:4700::1111", "public-v6-google": "2a00:1450:4001:81c::200e",
    "public-v6-low": "2000::1", "public-v6-high": "3ffe::1",
    "mapped-public": f"::ffff:{PUBLIC_V4}", "nat64-public": f"64:ff9b::{PUBLIC_V4}",
    "6to4-public": "2002:5db8:d822::1", "6to4-public-subnet": "2002:5db8:d822:ffff::7f00:1",
}


@pytest.mark.parametrize("address", DENIED.values(), ids=DENIED.keys())
def test_denied(address):
    assert address_denied(address) is True


@pytest.mark.parametrize("address", ALLOWED.values(), ids=ALLOWED.keys())
def test_allowed(address):
    assert address_denied(address) is False


@pytest.mark.parametrize("text", ["localhost", "127.1", "0x7f000001", "::ffff:127.0.0.1.5", ""])
def test_not_an_address(text):
    with pytest.raises(ValueError):
        address_denied(text)
