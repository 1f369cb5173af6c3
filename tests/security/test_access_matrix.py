"""Who may call which endpoint with an id in its path: the API as one table.

Every rule of the app's URL map under ``/api/`` with a ``<parameter>``, with each of its
methods, has a row in MATRIX (HEAD and OPTIONS aside: Flask answers them from GET and
from the rule's method list). A new endpoint without a row fails
``test_every_endpoint_with_an_id_is_in_the_matrix``, and so does a row whose endpoint
is gone.

Every row is tried by every kind of caller, in table order, against objects made for
that caller alone: a change one caller may make never disturbs the next caller's row.
Columns:

- ``anon``  no credentials
- ``none``  a member of the tenant without any share
- ``r1`` / ``r2`` / ``r3``  a member with a read (1) / write (2) / share (3) share
- ``own``   the integration's owner (elsewhere a plain member)
- ``adm``   a superuser of the tenant
- ``boss``  a superuser of another tenant

A cell is ``ok`` or the refusal's status. ``ok`` means the request got past the ACL: a
2xx/3xx, or a 400/409/415/422 about the body or the state (a connect of a non-OAuth
integration answers 409, say), never 401, 403, 404 or 5xx. A refusal is checked with its
problem code: 401 ``authentication_required``, 403 ``forbidden``, 404 the resource's
own not-found code (``integration_not_found`` for everything under an integration).

The ``variant`` column says which object the row is tried on when it is not the usual
one: ``shared`` a shared-mode integration (its one connection needs write access),
``spare`` an object of its own because the request removes or gives it away, ``own``
and ``other`` the caller's own token or tag versus someone else's.

After a caller's rows, EFFECTS probes (as the administrator) whether each lasting change
happened: exactly where its cell says ``ok``, so a refusal is also seen to change nothing.
``test_child_ids_only_resolve_under_their_own_parent`` adds the other way round: ids of
one integration, webhook or tenant used under another are 404 even for an administrator.

The matrix runs on PostgreSQL only (on both backends it doubles the time; the ACL is the
same code and SQL on either); the URL-map checks need no database and run once, on SQLite.

See docs/security.md, "Who may do what".
"""

from __future__ import annotations

import base64
import io
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import pytest

from tests import factories
from tests.conftest import Caller

I = "/api/integrations/<integration_id>"  # noqa: E741 - short on purpose: the table's prefix
OK = "ok"
CALLERS = ("anon", "none", "r1", "r2", "r3", "own", "adm", "boss")

# The whole contract. Rows run top to bottom for each caller, so reads come before the
# changes that would disturb them, and removals come last.
MATRIX_TEXT = """
# rule                                     method  variant anon none r1   r2   r3   own  adm  boss
$I                                         GET     -       401  404  ok   ok   ok   ok   ok   404
$I/owner                                   GET     -       401  404  ok   ok   ok   ok   ok   404
$I/shares                                  GET     -       401  404  ok   ok   ok   ok   ok   404
$I/shares/<principal_id>                   GET     -       401  404  ok   ok   ok   ok   ok   404
$I/tags                                    GET     -       401  404  ok   ok   ok   ok   ok   404
$I/icon                                    GET     -       401  404  ok   ok   ok   ok   ok   404
$I/connections                             GET     -       401  404  403  403  403  ok   ok   404
$I/connections/<connection_id>             GET     -       401  404  403  403  403  ok   ok   404
$I/records                                 GET     -       401  404  ok   ok   ok   ok   ok   404
$I/records/<model>/<record_id:record_id>   GET     -       401  404  ok   ok   ok   ok   ok   404
$I/lineage                                 GET     -       401  404  ok   ok   ok   ok   ok   404
$I/record-groups                           GET     -       401  404  ok   ok   ok   ok   ok   404
$I/sync                                    GET     -       401  404  ok   ok   ok   ok   ok   404
$I/sync/runs                               GET     -       401  404  ok   ok   ok   ok   ok   404
$I/sync/runs/<run_id>                      GET     -       401  404  ok   ok   ok   ok   ok   404
$I/schema                                  GET     -       401  404  ok   ok   ok   ok   ok   404
$I/connect                                 GET     -       401  404  ok   ok   ok   ok   ok   404
$I/connect                                 GET     shared  401  404  403  ok   ok   ok   ok   404
$I/connect                                 POST    -       401  404  ok   ok   ok   ok   ok   404
$I/connect                                 POST    shared  401  404  403  ok   ok   ok   ok   404
$I/connection                              GET     -       401  404  ok   ok   ok   ok   ok   404
$I/account                                 GET     -       401  404  ok   ok   ok   ok   ok   404
$I/connection/refresh                      POST    -       401  404  ok   ok   ok   ok   ok   404
$I/connection/refresh                      POST    shared  401  404  403  ok   ok   ok   ok   404
$I/request                                 POST    -       401  404  ok   ok   ok   ok   ok   404
$I/request/<path:target>                   GET     -       401  404  ok   ok   ok   ok   ok   404
$I/request/<path:target>                   POST    -       401  404  ok   ok   ok   ok   ok   404
$I/request/<path:target>                   PUT     -       401  404  ok   ok   ok   ok   ok   404
$I/request/<path:target>                   PATCH   -       401  404  ok   ok   ok   ok   ok   404
$I/request/<path:target>                   DELETE  -       401  404  ok   ok   ok   ok   ok   404
$I/requests                                GET     -       401  404  403  403  403  ok   ok   404
$I/requests/<request_id>                   GET     -       401  404  403  403  403  ok   ok   404
$I/query                                   POST    -       401  404  ok   ok   ok   ok   ok   404
$I/store                                   POST    -       401  404  ok   ok   ok   ok   ok   404
$I/test                                    POST    -       401  404  ok   ok   ok   ok   ok   404
$I/directories/preview                     POST    -       401  404  ok   ok   ok   ok   ok   404
$I                                         PUT     -       401  404  403  ok   ok   ok   ok   404
$I                                         PATCH   -       401  404  403  ok   ok   ok   ok   404
$I/icon                                    PUT     -       401  404  403  ok   ok   ok   ok   404
$I/tags/<tag_id>                           PUT     -       401  404  403  ok   ok   ok   ok   404
$I/import                                  POST    -       401  404  403  ok   ok   ok   ok   404
$I/records/<model>                         POST    -       401  404  403  ok   ok   ok   ok   404
$I/records/<model>/<record_id:record_id>   PUT     -       401  404  403  ok   ok   ok   ok   404
$I/records/<model>/<record_id:record_id>   PATCH   -       401  404  403  ok   ok   ok   ok   404
$I/records/<model>                         PATCH   -       401  404  403  ok   ok   ok   ok   404
$I/sync                                    POST    -       401  404  403  ok   ok   ok   ok   404
$I/sync/confirm                            POST    -       401  404  403  ok   ok   ok   ok   404
$I/shares                                  POST    -       401  404  403  403  ok   ok   ok   404
$I/shares/<principal_id>                   PUT     -       401  404  403  403  ok   ok   ok   404
$I/shares/<principal_id>                   DELETE  -       401  404  403  403  ok   ok   ok   404
$I/tags/<tag_id>                           DELETE  -       401  404  403  ok   ok   ok   ok   404
$I/icon                                    DELETE  -       401  404  403  ok   ok   ok   ok   404
$I/records/<model>/<record_id:record_id>   DELETE  -       401  404  403  ok   ok   ok   ok   404
$I/records/<model>                         DELETE  -       401  404  403  ok   ok   ok   ok   404
$I/connection                              DELETE  -       401  404  ok   ok   ok   ok   ok   404
$I/connection                              DELETE  shared  401  404  403  ok   ok   ok   ok   404
$I/owner                                   PUT     spare   401  404  403  403  403  ok   ok   404
$I                                         DELETE  spare   401  404  403  403  403  ok   ok   404
/api/tokens/<token_id>                     GET     own     401  ok   ok   ok   ok   ok   ok   ok
/api/tokens/<token_id>                     GET     other   401  404  404  404  404  404  ok   404
/api/tokens/<token_id>                     DELETE  other   401  404  404  404  404  404  ok   404
/api/tokens/<token_id>                     DELETE  own     401  ok   ok   ok   ok   ok   ok   ok
/api/users/<username>                      GET     -       401  ok   ok   ok   ok   ok   ok   404
/api/users/<username>                      PUT     -       401  403  403  403  403  403  ok   404
/api/users/<username>/sessions             DELETE  -       401  403  403  403  403  403  ok   404
/api/users/<username>                      DELETE  spare   401  403  403  403  403  403  ok   404
/api/teams/<team_id>                       GET     -       401  ok   ok   ok   ok   ok   ok   404
/api/teams/<team_id>                       PUT     -       401  403  403  403  403  403  ok   404
/api/teams/<team_id>/members/<username>    PUT     -       401  403  403  403  403  403  ok   404
/api/teams/<team_id>/members/<username>    DELETE  -       401  403  403  403  403  403  ok   404
/api/teams/<team_id>                       DELETE  -       401  403  403  403  403  403  ok   404
/api/tags/<tag_id>                         GET     -       401  ok   ok   ok   ok   ok   ok   404
/api/tags/<tag_id>                         PUT     -       401  403  403  403  403  403  ok   404
/api/tags/<tag_id>                         PUT     own     401  ok   ok   ok   ok   ok   ok   ok
/api/tags/<tag_id>                         DELETE  own     401  ok   ok   ok   ok   ok   ok   ok
/api/tags/<tag_id>                         DELETE  -       401  403  403  403  403  403  ok   404
/api/webhooks/<webhook_id>                 GET     -       401  403  403  403  403  403  ok   404
/api/webhooks/<webhook_id>                 PUT     -       401  403  403  403  403  403  ok   404
/api/webhooks/<webhook_id>/ping            POST    -       401  403  403  403  403  403  ok   404
/api/webhooks/<webhook_id>/deliveries      GET     -       401  403  403  403  403  403  ok   404
/api/webhooks/<webhook_id>/deliveries/<delivery_id>  GET  - 401 403 403 403  403  403  ok   404
/api/webhooks/<webhook_id>                 DELETE  -       401  403  403  403  403  403  ok   404
/api/audit/<entry_id>                      GET     -       401  403  403  403  403  403  ok   404
/api/integration-types/<type_name>         GET     -       401  ok   ok   ok   ok   ok   ok   ok
/api/integration-types/<type_name>/icon    GET     -       ok   ok   ok   ok   ok   ok   ok   ok
/api/rels/<rel>                            GET     -       ok   ok   ok   ok   ok   ok   ok   ok
/api/docs/assets/<path:filename>           GET     -       ok   ok   ok   ok   ok   ok   ok   ok
"""
# Notes on cells that are choices, not written in docs/security.md:
# - tokens, "other" by adm: services.tokens.get_token lets a superuser read and revoke any
#   token of the tenant (to stop a leaked one); others, and other tenants, get 404.
# - owner PUT needs ownership, not share level 3 (docs/decisions.md, "Transferring ownership").
# - connections, connections/<id>, requests and requests/<id> are the owner's and
#   administrators' (docs/security.md,
#   "Who may do what"); import, starting a sync and confirming one need write
#   (docs/decisions.md, "Access"; docs/security.md, "Whom a sync acts as").
#   The connection of connections/<id> is none of these callers' own: a user may also read
#   their own there (its self link; tests/api/test_hal_forms.py).
# - team members: superusers, and admins of the team (none of these callers is one).
# - catalogue types are the same for every tenant; their icons, relation pages and the API
#   docs' assets are public (docs/decisions.md "Catalogue icons are public").


@dataclass(frozen=True)
class Row:
    rule: str
    method: str
    variant: str
    expected: dict[str, str | int]

    def __str__(self) -> str:
        variant = "" if self.variant == "-" else f" [{self.variant}]"
        return f"{self.method} {self.rule}{variant}"


def parse_matrix(text: str) -> list[Row]:
    rows = []
    for line in text.strip().splitlines():
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        rule, method, variant, *cells = line.split()
        assert len(cells) == len(CALLERS), line
        rows.append(Row(rule.replace("$I", I), method, variant,
                        {caller: OK if cell == OK else int(cell)
                         for caller, cell in zip(CALLERS, cells, strict=True)}))
    return rows


MATRIX = parse_matrix(MATRIX_TEXT)

# The not-found code of each kind of resource: a 404 with it is a refusal.
NOT_FOUND_CODES = (("/api/integrations/", "integration_not_found"),
                   ("/api/tokens/", "not_found"), ("/api/users/", "user_not_found"),
                   ("/api/teams/", "team_not_found"), ("/api/tags/", "tag_not_found"),
                   ("/api/webhooks/", "webhook_not_found"),
                   ("/api/audit/", "audit_entry_not_found"),
                   ("/api/integration-types/", "integration_type_not_found"))
PASSED_ACL = frozenset({400, 409, 415, 422})  # the ACL let it through; the body or state did not

PNG = base64.b64decode("iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9Q"
                       "DwADhgGAWjR9awAAAABJRU5ErkJggg==")
SYNC = {"model": "contacts", "path": "/contacts", "itemsPath": "data", "pagination": "none"}
SHARES = {"rita": 1, "walt": 2, "shay": 3, "bea": 1}
INTEGRATION_KEY = "matrix-integration-key-5521"


def _multipart_import() -> dict[str, Any]:
    return {"content_type": "multipart/form-data",
            "data": {"model": "people", "resources_file": (io.BytesIO(b"id,name\nr2,Two\n"),
                                                           "people.csv")}}


# What each request sends, by (rule, method); made afresh for every request.
BODIES: dict[tuple[str, str], Callable[[str], dict[str, Any]]] = {
    (I, "PUT"): lambda c: {"json": {"description": f"changed by {c}"}},
    (I, "PATCH"): lambda c: {"json": {"description": f"patched by {c}"}},
    (f"{I}/lineage", "GET"): lambda _: {"query_string": {"model": "people", "recordId": "r1"}},
    (f"{I}/record-groups", "GET"): lambda _: {"query_string": {"model": "people",
                                                                "column": "name"}},
    (f"{I}/connect", "POST"): lambda c: {"json": {"apiKey": f"matrix-user-key-{c}-7731"}},
    (f"{I}/request", "POST"): lambda c: {"json": {"url": "items", "params": {"q": c}}},
    (f"{I}/request/<path:target>", "POST"): lambda c: {"json": {"from": c}},
    (f"{I}/request/<path:target>", "PUT"): lambda c: {"json": {"from": c}},
    (f"{I}/request/<path:target>", "PATCH"): lambda c: {"json": {"from": c}},
    (f"{I}/query", "POST"): lambda c: {"json": {"sql": "SELECT 1"}},
    (f"{I}/store", "POST"): lambda c: {"json": {"op": "list", "model": "people"}},
    (f"{I}/records/<model>", "POST"): lambda c: {"json": {"id": f"by-{c}", "name": c}},
    (f"{I}/records/<model>", "PATCH"): lambda c: {
        "json": {"bulk": c}, "query_string": {"where": "(id,notblank)"}},
    (f"{I}/records/<model>", "DELETE"): lambda c: {"query_string": {"where": "(id,like,r%)"}},
    (f"{I}/records/<model>/<record_id:record_id>", "PUT"): lambda c: {"json": {"name": c}},
    (f"{I}/records/<model>/<record_id:record_id>", "PATCH"): lambda c: {
        "json": {"patched": c}, "content_type": "application/merge-patch+json"},
    (f"{I}/icon", "PUT"): lambda c: {"data": PNG, "content_type": "image/png"},
    (f"{I}/import", "POST"): lambda c: _multipart_import(),
    (f"{I}/shares", "POST"): lambda c: {"json": {"principalId": "bea", "accessLevel": 1}},
    (f"{I}/shares/<principal_id>", "PUT"): lambda c: {"json": {"accessLevel": 1}},
    (f"{I}/owner", "PUT"): lambda c: {"json": {"principalId": "bea"}},
    ("/api/users/<username>", "PUT"): lambda c: {"json": {"displayName": f"Renamed by {c}"}},
    ("/api/teams/<team_id>", "PUT"): lambda c: {"json": {"description": f"by {c}"}},
    ("/api/teams/<team_id>/members/<username>", "PUT"): lambda c: {"json": {"role": "member"}},
    ("/api/tags/<tag_id>", "PUT"): lambda c: {"json": {"color": "#123456"}},
    ("/api/webhooks/<webhook_id>", "PUT"): lambda c: {"json": {"description": f"by {c}"}},
}

World = dict[str, dict[str, str]]  # variant (or "spare <METHOD>") -> path parameter values


def world_key(row: Row) -> str:
    return f"spare {row.method}" if row.variant == "spare" else row.variant


def fill(rule: str, values: dict[str, str]) -> str:
    """The rule's path with its parameters replaced by ``values`` (percent-encoded)."""
    def value(match: re.Match) -> str:
        converter, name = match.group(1), match.group(2)
        return quote(values[name], safe="/" if converter == "path" else "")
    return re.sub(r"<(?:([^:<>]+):)?([^<>]+)>", value, rule)


def not_found_code(rule: str) -> str:
    return next((code for prefix, code in NOT_FOUND_CODES if rule.startswith(prefix)),
                "not_found")


def problem_code(answer) -> str | None:
    if answer.mimetype != "application/problem+json":
        return None
    return (answer.get_json(silent=True) or {}).get("code")


def judge(row: Row, caller: str, answer) -> str | None:
    """None when the answer is what the table says, else why not."""
    expected, status, code = row.expected[caller], answer.status_code, problem_code(answer)
    if expected == OK:
        if status < 400 or status in PASSED_ACL:
            return None
        return f"{row} as {caller}: expected to pass the ACL, got {status} {code}"
    wanted = {401: "authentication_required", 403: "forbidden",
              404: not_found_code(row.rule)}[expected]
    if expected == 401 and "Bearer" not in answer.headers.get("WWW-Authenticate", ""):
        return f"{row} as {caller}: 401 without WWW-Authenticate: Bearer"
    if status == expected and code == wanted:
        return None
    return f"{row} as {caller}: expected {expected} {wanted}, got {status} {code}"


# Whether a change happened, seen by the tenant's administrator afterwards: it must have
# happened exactly where the table says ``ok`` (a refused request changes nothing).
Probe = Callable[[Any, dict, dict[str, str]], bool]


def gone(rule: str) -> Probe:
    return lambda client, admin, values: client.get(fill(rule, values),
                                                    headers=admin).status_code == 404


def _owner_changed(client, admin, values) -> bool:
    return client.get(fill(f"{I}/owner", values), headers=admin).get_json()["id"] != "olga"


def _described(client, admin, values) -> bool:
    return client.get(fill(I, values), headers=admin).get_json()["description"] != ""


def _icon_removed(client, admin, values) -> bool:
    """The upload is gone (the integration's catalogue icon may be served in its place)."""
    return client.get(fill(f"{I}/icon", values), headers=admin).data != PNG


def _sync_confirmed(client, admin, values) -> bool:
    entries = client.get("/api/audit", headers=admin, query_string={
        "action": "sync.confirm", "targetId": values["integration_id"], "outcome": "success"})
    return entries.get_json()["total"] > 0


def _untagged(client, admin, values) -> bool:
    tags = client.get(fill(f"{I}/tags", values), headers=admin).get_json()
    return values["tag_id"] not in {tag["id"] for tag in tags["_embedded"]["inf:tag"]}


def _record_created(client, headers, values: dict[str, str]) -> bool:
    """Some caller's POST stored a record ``by-<caller>`` in the world's model."""
    page = client.get(fill(f"{I}/records", values), headers=headers,
                      query_string={"model": values["model"]}).get_json()
    return any(item["id"].startswith("by-") for item in page["_embedded"]["inf:record"])


def _r_records_deleted(client, headers, values: dict[str, str]) -> bool:
    """The bulk DELETE of ids starting with "r" (the imported ones) happened; the records a
    POST made (``by-...``) stay for its own probe."""
    page = client.get(fill(f"{I}/records", values), headers=headers,
                      query_string={"model": values["model"], "where": "(id,like,r%)"})
    return page.get_json()["total"] == 0


EFFECTS: dict[tuple[str, str, str], Probe] = {
    (I, "PUT", "-"): _described,
    (I, "DELETE", "spare"): gone(I),
    (f"{I}/owner", "PUT", "spare"): _owner_changed,
    (f"{I}/shares/<principal_id>", "DELETE", "-"): gone(f"{I}/shares/<principal_id>"),
    (f"{I}/icon", "DELETE", "-"): _icon_removed,
    (f"{I}/tags/<tag_id>", "DELETE", "-"): _untagged,
    (f"{I}/sync/confirm", "POST", "-"): _sync_confirmed,
    (f"{I}/records/<model>", "POST", "-"): _record_created,
    (f"{I}/records/<model>/<record_id:record_id>", "DELETE", "-"):
        gone(f"{I}/records/<model>/<record_id:record_id>"),
    (f"{I}/records/<model>", "DELETE", "-"): _r_records_deleted,
    ("/api/tokens/<token_id>", "DELETE", "other"): gone("/api/tokens/<token_id>"),
    ("/api/users/<username>", "DELETE", "spare"): gone("/api/users/<username>"),
    ("/api/teams/<team_id>", "DELETE", "-"): gone("/api/teams/<team_id>"),
    ("/api/tags/<tag_id>", "DELETE", "-"): gone("/api/tags/<tag_id>"),
    ("/api/webhooks/<webhook_id>", "DELETE", "-"): gone("/api/webhooks/<webhook_id>"),
}


def run_rows(client, headers: dict[str, dict], worlds: dict[str, World],
             rows: list[Row]) -> tuple[list[str], int]:
    """Every row for every caller, then the effects of its changes; answers the mismatches
    and the number of requests."""
    problems, count = [], 0
    for caller in CALLERS:
        for row in rows:
            body = BODIES.get((row.rule, row.method), lambda _: {})(caller)
            answer = client.open(fill(row.rule, worlds[caller][world_key(row)]),
                                 method=row.method, headers=headers[caller], **body)
            count += 1
            problem = judge(row, caller, answer)
            if problem:
                problems.append(problem)
        for row in rows:
            probe = EFFECTS.get((row.rule, row.method, row.variant))
            if probe is None:
                continue
            happened = probe(client, headers["adm"], worlds[caller][world_key(row)])
            if happened != (row.expected[caller] == OK):
                problems.append(f"{row} as {caller}: the change "
                                f"{'happened' if happened else 'did not happen'}")
    return problems, count


def rows_under(*prefixes: str) -> list[Row]:
    return [row for row in MATRIX if row.rule.startswith(prefixes)]


@pytest.fixture
def postgresql_only(backend):
    """The matrix runs on PostgreSQL, the production database, only: on both backends it
    would take twice as long, and the ACL is the same code and SQL on either."""
    if backend != "postgresql":
        pytest.skip("the access matrix runs on PostgreSQL only, to keep the suite fast")


@pytest.fixture
def url_map_only(backend):
    """The URL map does not depend on the database: check it once, on SQLite."""
    if backend != "sqlite":
        pytest.skip("the URL map is checked once, on SQLite")


@pytest.fixture
def callers(postgresql_only, admin, make_caller) -> dict[str, Caller | None]:
    return {"anon": None, "none": make_caller("nina"), "r1": make_caller("rita"),
            "r2": make_caller("walt"), "r3": make_caller("shay"), "own": make_caller("olga"),
            "adm": admin, "boss": make_caller("boss", tenant="acme", superuser=True)}


@pytest.fixture
def headers(callers) -> dict[str, dict]:
    return {name: caller.headers if caller else {} for name, caller in callers.items()}


def api_id(answer, status: int = 201) -> str:
    assert answer.status_code == status, answer.get_data(as_text=True)
    return answer.get_json()["id"]


# -- the contract is complete --------------------------------------------------------------

def api_rules_with_ids(app) -> set[tuple[str, str]]:
    return {(rule.rule, method) for rule in app.url_map.iter_rules()
            if rule.rule.startswith("/api/") and "<" in rule.rule
            for method in rule.methods - {"HEAD", "OPTIONS"}}


def test_every_endpoint_with_an_id_is_in_the_matrix(url_map_only, app):
    routed = api_rules_with_ids(app)
    tabled = {(row.rule, row.method) for row in MATRIX}

    missing = sorted(routed - tabled)
    stale = sorted(tabled - routed)
    assert not missing, "endpoints without a row in MATRIX:\n" + "\n".join(
        f"{method} {rule}" for rule, method in missing)
    assert not stale, "rows in MATRIX for endpoints that do not exist:\n" + "\n".join(
        f"{method} {rule}" for rule, method in stale)
    unknown_bodies = set(BODIES) - tabled
    assert not unknown_bodies, unknown_bodies
    unknown_effects = set(EFFECTS) - {(row.rule, row.method, row.variant) for row in MATRIX}
    assert not unknown_effects, unknown_effects


# Endpoints with an id that the API documents (docs/api-conventions.md, docs/decisions.md).
DOCUMENTED_ROUTES_WITH_IDS = [
    ("/api/users/<username>", "GET"), ("/api/users/<username>", "PUT"),
    ("/api/users/<username>", "DELETE"), ("/api/teams/<team_id>", "GET"),
    ("/api/teams/<team_id>", "PUT"), ("/api/teams/<team_id>", "DELETE"),
    ("/api/teams/<team_id>/members/<username>", "PUT"),
    ("/api/teams/<team_id>/members/<username>", "DELETE"), ("/api/tokens/<token_id>", "DELETE"),
    (I, "GET"), (I, "PUT"), (I, "PATCH"), (I, "DELETE"),
    ("/api/integration-types/<type_name>", "GET"),
    (f"{I}/icon", "GET"), (f"{I}/icon", "PUT"), (f"{I}/icon", "DELETE"), (f"{I}/tags", "GET"),
    (f"{I}/tags/<tag_id>", "PUT"), (f"{I}/tags/<tag_id>", "DELETE"),
    ("/api/tags/<tag_id>", "GET"), ("/api/tags/<tag_id>", "PUT"), ("/api/tags/<tag_id>", "DELETE"),
    (f"{I}/connect", "GET"), (f"{I}/connect", "POST"), (f"{I}/connection", "GET"),
    (f"{I}/connection", "DELETE"), (f"{I}/connection/refresh", "POST"),
    (f"{I}/connections", "GET"), (f"{I}/account", "GET"),
    (f"{I}/directories/preview", "POST"),
    (f"{I}/request", "POST"), (f"{I}/request/<path:target>", "GET"), (f"{I}/requests", "GET"),
    (f"{I}/query", "POST"), (f"{I}/schema", "GET"), (f"{I}/test", "POST"),
    (f"{I}/store", "POST"), (f"{I}/records", "GET"), (f"{I}/import", "POST"),
    (f"{I}/lineage", "GET"), (f"{I}/records/<model>", "POST"),
    (f"{I}/records/<model>/<record_id:record_id>", "GET"),
    (f"{I}/records/<model>/<record_id:record_id>", "PUT"),
    (f"{I}/records/<model>/<record_id:record_id>", "PATCH"),
    (f"{I}/records/<model>/<record_id:record_id>", "DELETE"),
    (f"{I}/records/<model>", "PATCH"), (f"{I}/records/<model>", "DELETE"),
    (f"{I}/record-groups", "GET"),
    (f"{I}/sync", "POST"), (f"{I}/sync", "GET"), (f"{I}/sync/confirm", "POST"),
    ("/api/webhooks/<webhook_id>", "GET"), ("/api/webhooks/<webhook_id>", "PUT"),
    ("/api/webhooks/<webhook_id>", "DELETE"), ("/api/webhooks/<webhook_id>/deliveries", "GET"),
    ("/api/webhooks/<webhook_id>/ping", "POST"),
]


def test_every_endpoint_with_an_id_the_spec_names_exists(url_map_only, app):
    """The matrix can only cover what is routed: the documented endpoints must be there."""
    routed = api_rules_with_ids(app)
    absent = [f"{method} {rule}" for rule, method in DOCUMENTED_ROUTES_WITH_IDS
              if (rule, method) not in routed]
    assert not absent, "documented endpoints that the hub does not route:\n" + "\n".join(absent)


# -- integrations and everything under them -----------------------------------------------

def integration_world(client, admin: Caller, owner: Caller, make_integration, upstream,
                      label: str) -> World:
    values = {"type": "custom", "auth_type": "apikey", "mode": "per-user",
              "api_base_uri": f"{upstream.url}/v1",
              "api_key": INTEGRATION_KEY, "owner": "olga", "shares": SHARES,
              "data": {"healthCheck": "/health"}}
    main = make_integration(f"Matrix {label}", **{**values, "data": {"healthCheck": "/health",
                                                                      "sync": SYNC}})
    shared = make_integration(f"Matrix {label} shared", **{**values, "mode": "shared"})
    spare_owner = make_integration(f"Matrix {label} spare owner", **values)
    spare_delete = make_integration(f"Matrix {label} spare delete", **values)
    base = f"/api/integrations/{main}"

    connection = api_id(client.post(f"{base}/connect", headers=owner.headers,
                                    json={"apiKey": f"matrix-owner-key-{label}-1187"}))
    tag = api_id(client.post("/api/tags", headers=admin.headers, json={"name": f"m-{label}"}))
    assert client.put(f"{base}/tags/{tag}", headers=admin.headers).status_code == 201
    assert client.put(f"{base}/icon", headers=admin.headers, data=PNG,
                      content_type="image/png").status_code == 200
    imported = client.post(f"{base}/import", headers=admin.headers, content_type="multipart/form-data",
                           data={"model": "people",
                                 "resources_file": (io.BytesIO(b"id,name\nr1,One\n"), "p.csv")})
    assert imported.status_code == 200, imported.get_data(as_text=True)
    run = api_id(client.post(f"{base}/sync", headers=admin.headers), 202)
    called = client.post(f"{base}/request", headers=owner.headers, json={"url": "items"})
    assert called.status_code == 200, called.get_data(as_text=True)
    called.close()  # the call is logged once its answer is done
    logged = client.get(f"{base}/requests", headers=admin.headers).get_json()
    request = logged["_embedded"]["inf:proxy-request"][0]["id"]

    common = {"principal_id": "bea", "target": "items", "model": "people", "record_id": "r1",
              "tag_id": tag, "connection_id": connection, "run_id": run, "request_id": request}
    return {"-": {**common, "integration_id": main},
            "shared": {**common, "integration_id": shared},
            "spare PUT": {**common, "integration_id": spare_owner},
            "spare DELETE": {**common, "integration_id": spare_delete}}


def test_integration_endpoints(client, session, admin, callers, headers, make_integration,
                               upstream, run_queue):
    factories.user(session, "bea")
    session.commit()
    upstream.respond("/v1/contacts", {"json": {"data": []}}, sticky=True)
    worlds = {caller: integration_world(client, admin, callers["own"], make_integration,
                                        upstream, caller) for caller in CALLERS}
    run_queue()  # the syncs started above finish, so a caller's own start is not refused

    rows = rows_under("/api/integrations/")
    problems, count = run_rows(client, headers, worlds, rows)

    assert count == len(rows) * len(CALLERS)
    assert not problems, "\n".join(problems)


# -- tokens ----------------------------------------------------------------------------------

def test_token_endpoints(client, admin, callers, headers, make_caller):
    tom = make_caller("tom")
    worlds = {}
    for caller in CALLERS:
        who = callers[caller] or tom
        own = api_id(client.post("/api/tokens", headers=who.headers, json={"name": "spare"}))
        other = api_id(client.post("/api/tokens", headers=tom.headers, json={"name": caller}))
        worlds[caller] = {"own": {"token_id": own}, "other": {"token_id": other}}

    rows = rows_under("/api/tokens/")
    problems, count = run_rows(client, headers, worlds, rows)

    assert count == len(rows) * len(CALLERS)
    assert not problems, "\n".join(problems)


# -- users and teams --------------------------------------------------------------------------

def test_user_and_team_endpoints(client, session, callers, headers):
    factories.user(session, "bea")
    worlds = {}
    for caller in CALLERS:
        factories.user(session, f"victim-{caller}")
        factories.team(session, f"crew-{caller}", members=["bea"])
        worlds[caller] = {"-": {"username": "bea", "team_id": f"team:crew-{caller}"},
                          "spare DELETE": {"username": f"victim-{caller}"}}
    session.commit()

    rows = rows_under("/api/users/", "/api/teams/")
    problems, count = run_rows(client, headers, worlds, rows)

    assert count == len(rows) * len(CALLERS)
    assert not problems, "\n".join(problems)


# -- tags --------------------------------------------------------------------------------------

def test_tag_endpoints(client, admin, callers, headers):
    worlds = {}
    for caller in CALLERS:
        theirs = api_id(client.post("/api/tags", headers=admin.headers,
                                    json={"name": f"admins-{caller}"}))
        own = api_id(client.post("/api/tags", headers=(callers[caller] or admin).headers,
                                 json={"name": f"own-{caller}"}))
        worlds[caller] = {"-": {"tag_id": theirs}, "own": {"tag_id": own}}

    rows = rows_under("/api/tags/")
    problems, count = run_rows(client, headers, worlds, rows)

    assert count == len(rows) * len(CALLERS)
    assert not problems, "\n".join(problems)


# -- webhooks and the audit log ---------------------------------------------------------------

def test_webhook_and_audit_endpoints(client, admin, headers):
    worlds = {}
    for caller in CALLERS:
        hook = api_id(client.post("/api/webhooks", headers=admin.headers, json={
            "url": "https://receiver.example.com/hook", "events": ["*"],
            "secret": f"matrix-webhook-secret-{caller}-0042"}))
        delivery = api_id(client.post(f"/api/webhooks/{hook}/ping", headers=admin.headers), 202)
        entries = client.get("/api/audit", headers=admin.headers,
                             query_string={"action": "webhook.create", "targetId": hook})
        entry = entries.get_json()["_embedded"]["inf:audit-entry"][0]["id"]
        worlds[caller] = {"-": {"webhook_id": hook, "delivery_id": delivery, "entry_id": entry}}

    rows = rows_under("/api/webhooks/", "/api/audit/")
    problems, count = run_rows(client, headers, worlds, rows)

    assert count == len(rows) * len(CALLERS)
    assert not problems, "\n".join(problems)


# -- the catalogue, relation pages and the API docs' assets -------------------------------------

def test_catalogue_relation_and_docs_endpoints(client, headers):
    world = {"-": {"type_name": "github", "rel": "integration", "filename": "swagger-ui.css"}}
    worlds = {caller: world for caller in CALLERS}

    rows = rows_under("/api/integration-types/", "/api/rels/", "/api/docs/")
    problems, count = run_rows(client, headers, worlds, rows)

    assert count == len(rows) * len(CALLERS)
    assert not problems, "\n".join(problems)


def test_the_tables_tests_cover_every_row():
    """Each row belongs to exactly one of the tests above."""
    groups = [("/api/integrations/",), ("/api/tokens/",), ("/api/users/", "/api/teams/"),
              ("/api/tags/",), ("/api/webhooks/", "/api/audit/"),
              ("/api/integration-types/", "/api/rels/", "/api/docs/")]
    counted = sorted(str(row) for group in groups for row in rows_under(*group))
    assert counted == sorted(str(row) for row in MATRIX)


# -- ids of one parent used under another ------------------------------------------------------

def test_child_ids_only_resolve_under_their_own_parent(postgresql_only, client, session, admin,
                                                      make_caller, make_integration, upstream,
                                                      run_queue):
    """An administrator, allowed everywhere in the tenant, still gets 404 for a connection,
    record, sync run, delivery or tag of another integration, webhook or tenant, and cannot
    share with, hand over to or add to a team a principal of another tenant."""
    boss = make_caller("boss", tenant="acme", superuser=True)
    owner = make_caller("olga")
    factories.team(session, "crew", members=["olga"])
    session.commit()
    upstream.respond("/v1/contacts", {"json": {"data": []}}, sticky=True)
    ours = integration_world(client, admin, owner, make_integration, upstream, "ours")["-"]
    theirs = integration_world(client, admin, owner, make_integration, upstream, "theirs")["-"]
    run_queue()
    imported = client.post(f"/api/integrations/{theirs['integration_id']}/import",
                           headers=admin.headers, content_type="multipart/form-data",
                           data={"model": "people", "resources_file": (
                               io.BytesIO(b"id,name\nonly-theirs,X\n"), "p.csv")})
    assert imported.status_code == 200, imported.get_data(as_text=True)
    foreign_tag = api_id(client.post("/api/tags", headers=boss.headers, json={"name": "acme-tag"}))
    hooks = [api_id(client.post("/api/webhooks", headers=admin.headers, json={
        "url": "https://receiver.example.com/hook", "events": ["*"],
        "secret": f"matrix-webhook-secret-{n}-0042"})) for n in range(2)]
    other_delivery = api_id(client.post(f"/api/webhooks/{hooks[1]}/ping", headers=admin.headers),
                            202)
    base = f"/api/integrations/{ours['integration_id']}"

    checks = [
        ("GET", f"{base}/connections/{theirs['connection_id']}", None, 404, "not_found"),
        ("GET", f"{base}/sync/runs/{theirs['run_id']}", None, 404, "sync_run_not_found"),
        ("GET", f"{base}/requests/{theirs['request_id']}", None, 404, "proxy_request_not_found"),
        ("GET", f"{base}/records/people/only-theirs", None, 404, "record_not_found"),
        ("POST", f"{base}/store", {"op": "get", "model": "people", "id": "only-theirs"}, 404,
         "record_not_found"),
        ("PUT", f"{base}/tags/{foreign_tag}", None, 404, "tag_not_found"),
        ("GET", f"/api/tags/{foreign_tag}", None, 404, "tag_not_found"),
        ("PUT", f"{base}/shares/boss", {"accessLevel": 1}, 404, "principal_not_found"),
        ("PUT", f"{base}/owner", {"principalId": "boss"}, 404, "principal_not_found"),
        ("PUT", "/api/teams/team:crew/members/boss", {}, 404, "user_not_found"),
        ("GET", f"/api/webhooks/{hooks[0]}/deliveries/{other_delivery}", None, 404,
         "webhook_delivery_not_found"),
    ]
    problems = []
    for method, path, body, status, code in checks:
        answer = client.open(path, method=method, headers=admin.headers, json=body)
        if (answer.status_code, problem_code(answer)) != (status, code):
            problems.append(f"{method} {path}: expected {status} {code}, "
                            f"got {answer.status_code} {problem_code(answer)}")
    assert not problems, "\n".join(problems)
