"""Which addresses the hub may contact on someone's behalf when ``HUB_PROXY_DENY_PRIVATE`` is on:
global unicast addresses only (docs/security.md, "Outbound connections").

An allow-list, since IPv6 has too many spellings of a local address for a list of what to
deny (``::ffff:0:7f00:1`` and ``e000::7f00:1`` walked past one). Allowed are:

- IPv4 outside the IANA special-purpose blocks that are not globally reachable;
- IPv6 inside global unicast ``2000::/3`` outside its special blocks;
- the IPv6 forms that deliver to an IPv4 address (IPv4-mapped ``::ffff:0:0/96``, NAT64
  ``64:ff9b::/96``, 6to4 ``2002::/16``) when that IPv4 address is allowed.

Every other IPv6 address is denied. The blocks are written out, and ``ipaddress``'s own
``is_global`` must agree as well: an address either calls local is denied, so the verdict
never gets laxer with a Python version.
"""

from __future__ import annotations

import ipaddress

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

GLOBAL_UNICAST_V6 = ipaddress.IPv6Network("2000::/3")
NOT_GLOBAL_V6 = tuple(ipaddress.IPv6Network(block) for block in (  # inside 2000::/3
    "2001::/23",         # IETF protocol assignments: Teredo 2001::/32, benchmarking, ORCHID
    "2001:db8::/32",     # documentation
    "3fff::/20",         # documentation
))

# IPv6 forms whose packets go to the IPv4 address they carry.
MAPPED = ipaddress.IPv6Network("::ffff:0:0/96")
NAT64 = ipaddress.IPv6Network("64:ff9b::/96")
SIX_TO_FOUR = ipaddress.IPv6Network("2002::/16")


def address_denied(address: str) -> bool:
    """True for any address that is not global unicast (a zone after ``%`` is ignored).
    Raises ValueError for something that is not an IP address."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, IPv4):
        return not _v4_allowed(ip)
    return not _v6_allowed(ip)


def _v4_allowed(ip: IPv4) -> bool:
    return not any(ip in block for block in NOT_GLOBAL_V4) and ip.is_global


def _v6_allowed(ip: IPv6) -> bool:
    if ip in MAPPED or ip in NAT64:
        return _v4_allowed(IPv4(int(ip) & 0xFFFFFFFF))
    if ip in SIX_TO_FOUR:  # 2002:AABB:CCDD::/48 is the IPv4 site AA.BB.CC.DD
        return _v4_allowed(ip.sixtofour)
    return (ip in GLOBAL_UNICAST_V6 and not any(ip in block for block in NOT_GLOBAL_V6)
            and ip.is_global)
