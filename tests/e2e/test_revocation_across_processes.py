"""Revocation reaches every process: two hub processes on one database, a grant taken away
through one of them (docs/decisions.md, "Performance").

Processes A and B are two gunicorn masters with one worker each, so every call to B is served
by another process than every call to A. bob, in team eng, reaches an API-key integration
shared with eng through his own connected key; both processes first serve him several calls
(whatever a process would keep of his token, his access and his credentials, it now has).
Then a grant is taken away, or his key changed, through A's API, as a user would. The very
next call through A must see it, and B within 100 ms of A's answer: B is asked every 5 ms
from that moment, and every call sent to B later than 100 ms after it must see the change
(the time a call itself takes on a busy machine is not held against the hub).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from dataclasses import dataclass

import pytest
import requests

from tests.conftest import Caller
from tests.e2e.test_refresh_across_processes import Gunicorn, gunicorn, http_session

OLD_KEY, NEW_KEY = "bobs-first-key", "bobs-second-key"
WARM_CALLS = 4         # per process, before the change
WITHIN = 0.1           # seconds after A's answer by which B must see the change
POLL = 0.005           # seconds between two calls to B
SETTLE = 0.3           # seconds B is asked at least: every call after WITHIN must see it
PATIENCE = 3.0         # seconds B is asked at most: long enough to tell how late it was
REQUEST_TIMEOUT = 10.0


@dataclass
class World:
    a: Gunicorn
    b: Gunicorn
    admin: Caller
    bob: Caller
    integration: str
    team: str = "team:eng"

    def call(self, hub: Gunicorn, http: requests.Session, marker: str = "") -> requests.Response:
        """bob's GET .../request/echo through ``hub``; ``marker`` goes in its query."""
        return http.get(f"{hub.url}/api/integrations/{self.integration}/request/echo",
                        params={"marker": marker} if marker else None,
                        headers=self.bob.headers, timeout=REQUEST_TIMEOUT)


@pytest.fixture(scope="module")
def processes(migrated_app, tmp_path_factory) -> Iterator[tuple[Gunicorn, Gunicorn]]:
    """Hub processes A and B on the module's database (one per backend). Their request logs
    are written only when asked (``world``): on SQLite a write from another process between
    a test session's read and its write makes that write fail (tests/conftest.py)."""
    settings = migrated_app.config["HUB_SETTINGS"]
    with ExitStack() as stack:
        a, b = (stack.enter_context(gunicorn(settings, tmp_path_factory.mktemp(f"hub-{name}"),
                                             workers=1, HUB_REQUEST_LOG_FLUSH="3600"))
                for name in "ab")
        pids = [{pid for pid, *_ in server.access_lines()} for server in (a, b)]
        assert all(len(p) == 1 for p in pids) and not pids[0] & pids[1], (
            f"A and B must be two single processes: served by {pids}")
        yield a, b


@pytest.fixture
def world(app, processes, make_caller, upstream) -> Iterator[World]:
    """bob in team eng, connected with OLD_KEY to an integration shared with eng; every
    step through A's API, as the administrator and bob would. Afterwards both processes
    write their request logs, before ``app`` empties the tables."""
    a, b = processes
    admin = make_caller("root", superuser=True)
    bob = make_caller("bob", email="bob@example.com")
    made(a, "POST", "/api/teams", admin, {"id": "eng", "name": "Engineering",
                                          "members": [{"username": "bob"}]})
    integration = made(a, "POST", "/api/integrations", admin, {
        "name": "Echo", "type": "custom", "authType": "apikey", "mode": "per-user",
        "apiBaseUri": f"{upstream.url}/v1", "apiKeyName": "X-Api-Key",
        "headers": {"X-User-Email": "${user.email}"}})["id"]
    made(a, "PUT", f"/api/integrations/{integration}/shares/team:eng", admin, {"accessLevel": 1})
    made(a, "POST", f"/api/integrations/{integration}/connect", bob, {"apiKey": OLD_KEY})
    yield World(a, b, admin, bob, integration)
    for hub in (a, b):  # the request-log view writes its own process's log first
        made(hub, "GET", f"/api/integrations/{integration}/requests", admin)


def made(hub: Gunicorn, method: str, path: str, caller: Caller, body: dict | None = None) -> dict:
    """A call through ``hub`` that must succeed; its answer's body."""
    with http_session() as http:
        answer = http.request(method, f"{hub.url}{path}", headers=caller.headers, json=body,
                              timeout=REQUEST_TIMEOUT)
    assert answer.status_code in (200, 201), f"{method} {path}: {answer.text[:400]}"
    return answer.json()


def warm(world: World) -> None:
    """Several calls through each process, each reaching the upstream with bob's key."""
    for hub in (world.a, world.b):
        with http_session() as http:
            for _ in range(WARM_CALLS):
                answer = world.call(hub, http)
                assert answer.status_code == 200, answer.text[:400]
                assert echoed_key(answer) == OLD_KEY


def echoed_key(answer: requests.Response) -> str | None:
    """The key the upstream received, from its echo of the request."""
    return next((value for name, value in answer.json()["headers"]
                 if name.lower() == "x-api-key"), None)


# -- the changes, each made through A ---------------------------------------------------
def _ok(answer: requests.Response) -> requests.Response:
    assert answer.status_code in (200, 201, 204), (
        f"{answer.request.method} {answer.request.path_url}: "
        f"{answer.status_code} {answer.text[:400]}")
    return answer


def revoke_token(world: World, http: requests.Session) -> requests.Response:
    listed = _ok(http.get(f"{world.a.url}/api/tokens", headers=world.bob.headers,
                          timeout=REQUEST_TIMEOUT)).json()["_embedded"]["inf:token"]
    (token,) = listed
    return http.delete(f"{world.a.url}/api/tokens/{token['id']}", headers=world.bob.headers,
                       timeout=REQUEST_TIMEOUT)


def remove_share(world: World, http: requests.Session) -> requests.Response:
    return http.delete(f"{world.a.url}/api/integrations/{world.integration}/shares/{world.team}",
                       headers=world.admin.headers, timeout=REQUEST_TIMEOUT)


def disable_bob(world: World, http: requests.Session) -> requests.Response:
    return http.put(f"{world.a.url}/api/users/bob", json={"enabled": False},
                    headers=world.admin.headers, timeout=REQUEST_TIMEOUT)


def disconnect(world: World, http: requests.Session) -> requests.Response:
    return http.delete(f"{world.a.url}/api/integrations/{world.integration}/connection",
                       headers=world.bob.headers, timeout=REQUEST_TIMEOUT)


def remove_from_team(world: World, http: requests.Session) -> requests.Response:
    return http.delete(f"{world.a.url}/api/teams/{world.team}/members/bob",
                       headers=world.admin.headers, timeout=REQUEST_TIMEOUT)


def change_key(world: World, http: requests.Session) -> requests.Response:
    return http.post(f"{world.a.url}/api/integrations/{world.integration}/connect",
                     json={"apiKey": NEW_KEY}, headers=world.bob.headers,
                     timeout=REQUEST_TIMEOUT)


Change = Callable[[World, requests.Session], requests.Response]
# (change, the refusal as (status, problem code), or None: the call must use NEW_KEY)
CASES: dict[str, tuple[Change, tuple[int, str] | None]] = {
    "token revoked": (revoke_token, (401, "invalid_token")),
    "share removed": (remove_share, (404, "integration_not_found")),
    "user disabled": (disable_bob, (401, "invalid_token")),
    "connection deleted": (disconnect, (409, "integration_not_connected")),
    "removed from team": (remove_from_team, (404, "integration_not_found")),
    "key changed": (change_key, None),
}


def outcome(answer: requests.Response) -> str:
    """What a call answered, for messages: its status and problem code, or the key used."""
    if answer.status_code == 200:
        return f"200 with key {echoed_key(answer)!r}"
    try:
        return f"{answer.status_code} {answer.json().get('code')!r}"
    except ValueError:
        return f"{answer.status_code} {answer.text[:200]!r}"


def sees_change(answer: requests.Response) -> bool:
    """The call no longer goes through with bob's old grant or old key."""
    return answer.status_code != 200 or echoed_key(answer) != OLD_KEY


def expected(refusal: tuple[int, str] | None) -> str:
    return f"200 with key {NEW_KEY!r}" if refusal is None else f"{refusal[0]} {refusal[1]!r}"


@dataclass
class Poll:
    """One call to B: when it was sent and answered (seconds after A's answer), and what it
    answered."""
    sent: float
    arrived: float
    outcome: str
    sees_change: bool


def poll(world: World, hub: Gunicorn, since: float) -> list[Poll]:
    """bob's calls through ``hub``, one every POLL seconds from ``since``: until one has seen
    the change and SETTLE seconds have passed (later calls must see it too), or PATIENCE."""
    polls: list[Poll] = []
    with http_session() as http:
        while True:
            sent = time.monotonic() - since
            answer = world.call(hub, http)
            polls.append(Poll(sent, time.monotonic() - since, outcome(answer),
                              sees_change(answer)))
            if sent > PATIENCE or (sent > SETTLE and any(p.sees_change for p in polls)):
                return polls
            time.sleep(POLL)


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.0f} ms"


@pytest.mark.parametrize("case", list(CASES))
def test_a_change_through_one_process_reaches_the_other_within_100_ms(world, upstream, case):
    change, refusal = CASES[case]
    warm(world)

    with http_session() as http, ThreadPoolExecutor(max_workers=1) as other:
        _ok(change(world, http))
        since = time.monotonic()  # A's answer arrived: the change is committed
        in_b = other.submit(poll, world, world.b, since)
        next_in_a = world.call(world.a, http, marker="after-change")
        polls = in_b.result()

    assert outcome(next_in_a) == expected(refusal), (
        f"{case}: the next call through A answered {outcome(next_in_a)}")
    reached = [r for r in upstream.requests() if "after-change" in r.query]
    if refusal is not None:
        assert not reached, f"{case}: A's refused call reached the upstream"
    else:
        assert [r.header("X-Api-Key") for r in reached] == [NEW_KEY], (
            f"{case}: the upstream did not receive A's call with the new key")

    seen = [p for p in polls if p.sees_change]
    assert seen, (f"{case}: B still answered {polls[-1].outcome} to a call sent "
                  f"{ms(polls[-1].sent)} after A's answer ({len(polls)} calls)")
    first = seen[0]
    # A call's own time (a busy machine) is not the hub's delay: what counts is when the
    # calls that still went through the old way were sent.
    late = [p for p in polls if not p.sees_change and p.sent > WITHIN]
    assert not late, (
        f"{case}: B answered {late[-1].outcome} to a call sent {ms(late[-1].sent)} after "
        f"A's answer, more than {ms(WITHIN)}; the first call to see the change was sent "
        f"after {ms(first.sent)} and answered after {ms(first.arrived)} "
        f"(call {polls.index(first) + 1} of {len(polls)})")
    assert {p.outcome for p in seen} == {expected(refusal)}, (
        f"{case}: B answered {[p.outcome for p in seen]}")
