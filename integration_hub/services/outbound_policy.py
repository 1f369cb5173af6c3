"""Which addresses the hub may contact on someone's behalf when ``HUB_PROXY_DENY_PRIVATE`` is on:
global unicast addresses only (docs/security.md, "Outbound connections").

An IPv6 address that carries an IPv4 address (IPv4-mapped and -compatible, 6to4, NAT64,
Teredo) is judged by the IPv4 address it carries as well, since that is where the packets end
up. The tables are the IANA special-purpose registries' blocks that are not globally
reachable, written out so the verdict does not depend on the Python version's ``ipaddress``.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterator

IPv4 = ipaddress.IPv4Address
IPv6 = ipaddress.IPv6Address

NOT_GLOBAL_V4 = tuple(ipaddress.IPv4Network(block) for block in (
    "0.0.0.0/8",         # "this network", unspecified
    "10.0.0.0/8",        # private
    "100.64.0.0/10",     # shared address space (carrier-grade NAT)
    "127.0.0.0/8",       # loopback
    "169.254.0.0/16",    # link-local (cloud metadata services)
    "172.16.0.0/12",     # private
    "192.0.0.0/24",      # IETF protocol assignments
    "192.0.2.0/24",      # documentation
    "192.88.99.0/24",    # 6to4 relay anycast (deprecated)
    "192.168.0.0/16",    # private
    "198.18.0.0/15",     # benchmarking
    "198.51.100.0/24",   # documentation
    "203.0.113.0/24",    # documentation
    "224.0.0.0/4",       # multicast
    "240.0.0.0/4",       # reserved, and the limited broadcast address
))

NOT_GLOBAL_V6 = tuple(ipaddress.IPv6Network(block) for block in (
    "::/96",             # unspecified, loopback, IPv4-compatible (deprecated)
    "64:ff9b:1::/48",    # local-use IPv4/IPv6 translation
    "100::/64",          # discard-only
    "2001::/23",         # IETF protocol assignments (Teredo 2001::/32 among them)
    "2001:db8::/32",     # documentation
    "3fff::/20",         # documentation
    "5f00::/16",         # segment routing SIDs
    "fc00::/7",          # unique local
    "fe80::/10",         # link-local
    "fec0::/10",         # site-local (deprecated)
    "ff00::/8",          # multicast
))

MAPPED = ipaddress.IPv6Network("::ffff:0:0/96")
NAT64 = ipaddress.IPv6Network("64:ff9b::/96")
SIX_TO_FOUR = ipaddress.IPv6Network("2002::/16")


def address_denied(address: str) -> bool:
    """True for any address that is not global unicast, also inside IPv6 (a zone after ``%``
    is ignored). Raises ValueError for something that is not an IP address."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, IPv4):
        return _v4_denied(ip)
    carried = list(_carried_ipv4(ip))
    if ip in MAPPED or ip in NAT64 or ip in SIX_TO_FOUR:
        return any(_v4_denied(v4) for v4 in carried)  # a translation: only the IPv4 counts
    return any(ip in block for block in NOT_GLOBAL_V6) or any(_v4_denied(v4) for v4 in carried)


def _v4_denied(ip: IPv4) -> bool:
    return any(ip in block for block in NOT_GLOBAL_V4)


def _carried_ipv4(ip: IPv6) -> Iterator[IPv4]:
    """The IPv4 addresses an IPv6 address carries (and would deliver to)."""
    if ip.ipv4_mapped is not None:
        yield ip.ipv4_mapped
    if ip in NAT64 or ip in NOT_GLOBAL_V6[0]:  # 64:ff9b::a.b.c.d, ::a.b.c.d
        yield IPv4(int(ip) & 0xFFFFFFFF)
    if ip.sixtofour is not None:
        yield ip.sixtofour
    if ip.teredo is not None:
        yield from ip.teredo  # (server, client)
