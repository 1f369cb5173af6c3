"""A stand-in for the system resolver: names under ``.test`` answer the addresses a test gives.

``FakeDns(monkeypatch)`` replaces ``socket.getaddrinfo`` for the test; every other name, and
every address literal, goes to the real resolver. ``dns.add("api.hub.test", "127.0.0.1",
"93.184.216.34")`` makes the name answer those addresses, in that order; ``dns.asked`` lists the
names looked up through the stand-in. ``dns.rebinding(name, first, then)`` answers ``first``
to the first lookup and ``then`` to every later one, as a rebinding attacker's server would.
"""

from __future__ import annotations

import socket


class FakeDns:
    def __init__(self, monkeypatch) -> None:
        self.names: dict[str, list[str]] = {}
        self.later: dict[str, list[str]] = {}
        self.asked: list[str] = []
        self._real = socket.getaddrinfo
        monkeypatch.setattr(socket, "getaddrinfo", self.getaddrinfo)

    def add(self, name: str, *addresses: str) -> str:
        self.names[name.lower()] = list(addresses)
        return name

    def rebinding(self, name: str, first: list[str], then: list[str]) -> str:
        self.add(name, *first)
        self.later[name.lower()] = list(then)
        return name

    def getaddrinfo(self, host, port, family=0, type=0, proto=0, flags=0):
        name = host.decode("ascii") if isinstance(host, bytes) else host
        if name is None or name.lower().rstrip(".") not in self.names:
            return self._real(host, port, family, type, proto, flags)
        self.asked.append(name)
        port = int(port or 0)
        answers = []
        key = name.lower().rstrip(".")
        addresses = self.names[key]
        if key in self.later:  # from now on, the other answer
            self.names[key] = self.later.pop(key)
        for address in addresses:
            v6 = ":" in address
            af = socket.AF_INET6 if v6 else socket.AF_INET
            if family not in (0, socket.AF_UNSPEC, af):
                continue
            answers.append((af, socket.SOCK_STREAM, socket.IPPROTO_TCP, "",
                            (address, port, 0, 0) if v6 else (address, port)))
        if not answers:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        return answers
