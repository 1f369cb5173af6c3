"""Where the sign-in form may send a browser afterwards: a path of the hub, nothing else.

``next`` is read the way a browser reads a URL (the WHATWG URL standard): leading and
trailing controls and spaces are stripped, tab, CR and LF vanish anywhere, and ``\\``
is ``/`` in the path of an http(s) URL. So ``/\\t/evil.example`` is ``//evil.example``,
another host, and is refused like it.
"""

from __future__ import annotations

from urllib.parse import quote, urlsplit

MAX_LENGTH = 2048
_C0_AND_SPACE = "".join(chr(code) for code in range(0x21))
_DROPPED = str.maketrans("", "", "\t\n\r")
# Kept as they are; anything else (spaces, non-ASCII, quotes, backslashes in the query)
# is percent-encoded, so the Location header carries plain ASCII.
_SAFE = "/?#[]@!$&'()*+,;=:%~-._"


def local_target(target: str | None) -> str | None:
    """``target`` as a path of the hub's own origin, ready for ``Location``; None when a
    browser would leave the origin with it (or it is no usable path at all)."""
    if not target or len(target) > MAX_LENGTH:
        return None
    seen = target.strip(_C0_AND_SPACE).translate(_DROPPED)
    cut = min((seen.find(mark) for mark in "?#" if mark in seen), default=len(seen))
    seen = seen[:cut].replace("\\", "/") + seen[cut:]
    if not seen.startswith("/") or seen.startswith("//"):
        return None
    if any(ord(char) < 0x20 or ord(char) == 0x7F for char in seen):
        return None
    parts = urlsplit(seen)
    if parts.scheme or parts.netloc:
        return None
    try:
        return quote(seen, safe=_SAFE, errors="strict")
    except UnicodeEncodeError:  # a lone surrogate names no path
        return None
