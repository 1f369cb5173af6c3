"""Every secret the hub holds stays inside: not in any GET answer, header or log line.

One of each kind of secret is stored with a distinctive value: an integration's client
secret, its API key, its ``credentials`` JSON, a database integration's password, users'
own API key, bearer token, basic and database passwords, an OAuth connection's access and
refresh tokens, a webhook secret, a user's password and hub API tokens of someone other
than the callers. Then every GET route of the URL map is requested with its path
parameters filled from what was just made, by an administrator and by a member, together
with ``/api/openapi.json`` and the HTML pages ``/`` and ``/login``; and every answer body,
every header and every log record (captured at DEBUG for the whole test) is searched for
each secret, as it is and in the forms a leak would take on the way: percent-encoded,
base64 (at any byte offset, so inside ``user:password`` too), JSON- and HTML-escaped.

A GET route whose parameters this test cannot fill fails it: add a recipe to ``fillings``.
Runs on PostgreSQL only, to keep the suite fast: answers and logs do not depend on the
hub's own database.
(``tests/secret_watch.py`` checks answers to every test as well; this test asserts on
its own and reaches every GET route on purpose.)

See docs/security.md, "What is protected".
"""

from __future__ import annotations

import base64
import html
import io
import itertools
import json
import logging
import re
import uuid
from collections.abc import Iterator
from urllib.parse import quote, quote_plus, urlsplit

import pytest

from integration_hub.hal.relations import RELATIONS
from tests import factories
from tests.conftest import POSTGRES_ADMIN_URL

RUN = uuid.uuid4().hex[:8]


def secret(kind: str) -> str:
    """A value no answer holds by chance; '/', '+', '&', '=' and '~' make its encoded
    forms differ from it."""
    return f"{kind}-{RUN}/S3cr+t&v={kind[:3]}~{uuid.uuid4().hex[:10]}"


SECRETS = {name: secret(name) for name in (
    "client-secret", "basic-client-secret", "integration-api-key", "fallback-api-key",
    "credentials-password", "credentials-token", "database-password", "user-api-key",
    "user-bearer-token", "user-basic-password", "user-database-password", "oauth-access-token",
    "oauth-refresh-token", "webhook-secret", "user-password")}


# -- how a secret may look once it has leaked --------------------------------------------

def base64_cores(value: bytes) -> Iterator[str]:
    """For each of the three byte alignments, the base64 characters that depend only on
    ``value``: found wherever ``value`` sits inside a longer base64-encoded text."""
    for offset in range(3):
        encoded = base64.b64encode(b"\0" * offset + value).decode()
        first = 4 * ((offset + 2) // 3)  # the first group made of value bytes only
        last = 4 * ((offset + len(value)) // 3)  # the end of the last complete group
        core = encoded[first:last]
        if len(core) >= 12:
            yield core
            yield core.replace("+", "-").replace("/", "_")


def leaked_forms(value: str) -> dict[str, str]:
    """Each form the secret may take once leaked, with what the form is."""
    forms = {core: "base64" for core in base64_cores(value.encode())}
    forms.update({json.dumps(value)[1:-1]: "JSON-escaped", html.escape(value): "HTML-escaped",
                  quote_plus(value): "form-encoded", quote(value): "percent-encoded",
                  quote(value, safe=""): "percent-encoded"})
    forms[value] = "as it is"
    return forms


def find_leaks(where: str, text: str, forms: dict[str, dict[str, str]]) -> list[str]:
    """``forms``: each secret's name and its ``leaked_forms``. A leak is told with the text
    around it, the secret itself masked."""
    leaks = []
    for name, found in forms.items():
        for form, kind in found.items():
            at = text.find(form)
            if at >= 0:
                around = (text[max(0, at - 60):at] + f"<{name}>"
                          + text[at + len(form):at + len(form) + 40])
                leaks.append(f"{where}: {name} ({kind}) in ...{around!r}...")
    return leaks


def answer_text(answer) -> tuple[str, str]:
    body = answer.get_data()  # also reads a streamed (proxied) answer to its end
    return body.decode("utf-8", "replace"), str(answer.headers)


def record_text(record: logging.LogRecord) -> str:
    """Everything a handler could write: the message, its arguments, extra fields and
    the exception."""
    parts = [record.getMessage(), repr(record.args), repr(vars(record))]
    if record.exc_info:
        parts.append(logging.Formatter().formatException(record.exc_info))
    if record.exc_text:
        parts.append(record.exc_text)
    return "\n".join(parts)


# -- the hub's secrets ---------------------------------------------------------------------

def created(answer, status: int = 201) -> dict:
    assert answer.status_code == status, answer.get_data(as_text=True)
    return answer.get_json()


def store_secrets(client, session, admin, member, tom, make_integration, upstream,
                  receiver) -> dict:
    """Every kind of secret, stored through the API where a user would store it; answers
    the ids made on the way and the API tokens made for someone else."""
    base = f"{upstream.url}/v1"
    shared_with = {"mia": 1, "tom": 1}
    pg = urlsplit(POSTGRES_ADMIN_URL)
    database = {"host": pg.hostname or "127.0.0.1", "port": pg.port or 5432,
                "database": "postgres", "username": f"ihub_scan_nobody_{RUN}"}
    ids = {
        "oauth": make_integration(
            "Scan OAuth", type="custom", auth_type="oauth2", mode="per-user", shares=shared_with,
            auth_uri=f"{upstream.url}/authorize", token_uri=f"{upstream.url}/token",
            api_base_uri=base, client_id="scan-client-id",
            client_secret=SECRETS["client-secret"], scope="read"),
        "query-key": make_integration(
            "Scan query key", type="custom", auth_type="apikey", mode="shared",
            shares=shared_with, api_base_uri=base, api_key=SECRETS["integration-api-key"],
            api_key_location="query", api_key_name="api_key",
            data={"healthCheck": "/health",
                  "sync": {"model": "items", "path": "/items", "itemsPath": "data",
                           "pagination": "none"}}),
        "user-key": make_integration(
            "Scan user key", type="custom", auth_type="apikey", mode="per-user",
            shares=shared_with, api_base_uri=base, api_key=SECRETS["fallback-api-key"],
            api_key_location="query", api_key_name="key",
            credentials={"password": SECRETS["credentials-password"],
                         "token": SECRETS["credentials-token"]}),
        "bearer": make_integration("Scan bearer", type="custom", auth_type="bearer",
                                   mode="per-user", shares=shared_with, api_base_uri=base),
        "basic": make_integration("Scan basic", type="custom", auth_type="basic",
                                  mode="per-user", shares=shared_with, api_base_uri=base,
                                  client_id="scan-basic-user",
                                  client_secret=SECRETS["basic-client-secret"]),
        "database": make_integration("Scan database", type="postgresql", mode="shared",
                                     shares=shared_with, data=database,
                                     credentials={"password": SECRETS["database-password"]}),
        "user-database": make_integration(
            "Scan user database", type="postgresql", mode="per-user", shares=shared_with,
            data={key: value for key, value in database.items() if key != "username"}),
    }
    connect = "/api/integrations/{}/connect"
    for key, body in (
            ("oauth", {"accessToken": SECRETS["oauth-access-token"],
                       "refreshToken": SECRETS["oauth-refresh-token"], "expiresIn": 3600}),
            ("user-key", {"apiKey": SECRETS["user-api-key"]}),
            ("bearer", {"token": SECRETS["user-bearer-token"]}),
            ("basic", {"username": "mia-basic", "password": SECRETS["user-basic-password"]}),
            ("user-database", {"username": f"ihub_scan_mia_{RUN}",
                               "password": SECRETS["user-database-password"]})):
        created(client.post(connect.format(ids[key]), headers=member.headers, json=body))

    created(client.put(f"/api/users/{member.username}", headers=admin.headers,
                       json={"password": SECRETS["user-password"]}), 200)
    tag = created(client.post("/api/tags", headers=admin.headers, json={"name": "scan"}))["id"]
    client.put(f"/api/integrations/{ids['user-key']}/tags/{tag}", headers=admin.headers)
    factories.team(session, "scanners", members=["mia", "tom"])
    session.commit()
    receiver.expect_secret("/scan", SECRETS["webhook-secret"])
    hook = created(client.post("/api/webhooks", headers=admin.headers, json={
        "url": receiver.url("/scan"), "events": ["*"],
        "secret": SECRETS["webhook-secret"]}))["id"]
    created(client.post(f"/api/webhooks/{hook}/ping", headers=admin.headers), 202)
    created(client.post(f"/api/integrations/{ids['query-key']}/import", headers=admin.headers,
                        content_type="multipart/form-data",
                        data={"model": "people",
                              "resources_file": (io.BytesIO(b"id,name\nr1,One\n"), "p.csv")}),
            200)
    created(client.post(f"/api/integrations/{ids['query-key']}/sync", headers=admin.headers), 202)
    tokens = [created(client.post("/api/tokens", headers=tom.headers,
                                  json={"name": "not yours"}))["token"], tom.token]
    return {"integrations": ids, "tag": tag, "webhook": hook, "tokens": tokens}


# -- every GET route, filled in ----------------------------------------------------------

def collect_ids(client, admin, member, tom, made: dict) -> dict:
    """The ids the GET routes take, read back through the API as the administrator."""
    def embedded(path: str, rel: str, headers=admin.headers) -> list[dict]:
        answer = client.get(path, headers=headers, query_string={"limit": 500})
        assert answer.status_code == 200, (path, answer.get_data(as_text=True))
        return answer.get_json()["_embedded"][rel]

    under = {}
    for integration in made["integrations"].values():
        base = f"/api/integrations/{integration}"
        under[integration] = {
            "connection_id": [c["id"] for c in embedded(f"{base}/connections", "inf:connection")],
            "run_id": [r["id"] for r in embedded(f"{base}/sync/runs", "inf:sync-run")],
            "request_id": [r["id"] for r in embedded(f"{base}/requests", "inf:proxy-request")],
            "records": [{"model": r["model"], "record_id": r["id"]}
                        for r in embedded(f"{base}/records", "inf:record")],
            "principal_id": [s["principalId"]
                             for s in embedded(f"{base}/shares", "inf:integration-share")],
            "target": ["items"],
        }
    hook = made["webhook"]
    started = client.get(f"/api/integrations/{made['integrations']['oauth']}/connect",
                         headers=member.headers)  # a flow's one-time start address
    assert started.status_code == 302, started.get_data(as_text=True)
    return {
        "nonce": [started.headers["Location"].rsplit("/", 1)[1], "made-up"],
        "integrations": under,
        "deliveries": {hook: [d["id"] for d in embedded(f"/api/webhooks/{hook}/deliveries",
                                                         "inf:webhook-delivery")]},
        "webhook_id": [hook],
        "token_id": [t["id"] for who in (admin, member, tom)
                     for t in embedded("/api/tokens", "inf:token", who.headers)],
        "username": [u["username"] for u in embedded("/api/users", "inf:user")],
        "team_id": [t["id"] for t in embedded("/api/teams", "inf:team")],
        "tag_id": [made["tag"]],
        "entry_id": [e["id"] for e in embedded("/api/audit", "inf:audit-entry")],
        "type_name": ["custom", "postgresql", "github"],
        "rel": sorted(RELATIONS)[:5],
        "filename": ["index.css", "swagger-initializer.js", "hub.css", "oauth-result.js"],
        "path": ["anything"],
    }


def _product(groups: list[list[dict]]) -> list[dict]:
    return [dict(itertools.chain.from_iterable(d.items() for d in combo))
            for combo in itertools.product(*groups)]


def fillings(arguments: set[str], ids: dict) -> list[dict] | None:
    """Every combination of values for the rule's parameters; None when one is unknown."""
    if "integration_id" in arguments:
        rest, found = arguments - {"integration_id"}, []
        for integration, pool in ids["integrations"].items():
            groups = [[{"integration_id": integration}]]
            if {"model", "record_id"} <= rest:
                groups.append(pool["records"])
            for name in sorted(rest - {"model", "record_id"}):
                if name not in pool:
                    return None
                groups.append([{name: value} for value in pool[name]])
            found += _product(groups)
        return found
    if "delivery_id" in arguments:
        return [{"webhook_id": hook, "delivery_id": delivery}
                for hook, deliveries in ids["deliveries"].items() for delivery in deliveries]
    if any(name not in ids for name in arguments):
        return None
    return _product([[{name: value} for value in ids[name]] for name in sorted(arguments)])


def fill(rule: str, values: dict) -> str:
    """The rule's path with its parameters replaced by ``values`` (percent-encoded)."""
    def value(match: re.Match) -> str:
        converter, name = match.group(1), match.group(2)
        return quote(str(values[name]), safe="/" if converter in ("path", "record_id") else "")
    return re.sub(r"<(?:([^:<>]+):)?([^<>]+)>", value, rule)


def get_urls(app, ids: dict) -> tuple[list[str], list[str]]:
    """Every GET route's URLs, and the routes this test does not know how to fill."""
    urls, unknown = [], []
    for rule in sorted(app.url_map.iter_rules(), key=lambda r: r.rule):
        if "GET" not in rule.methods:
            continue
        if not rule.arguments:
            urls.append(rule.rule)
            continue
        values = fillings(set(rule.arguments), ids)
        if not values:
            unknown.append(f"{rule.rule} ({', '.join(sorted(rule.arguments))})")
            continue
        urls.extend(fill(rule.rule, filled) for filled in values)
    return urls, unknown


# -- the test ------------------------------------------------------------------------------

def test_no_secret_in_any_get_answer_header_or_log(backend, app, client, session, admin, member,
                                                   make_caller, make_integration, upstream,
                                                   receiver, run_queue, caplog):
    if backend != "postgresql":
        pytest.skip("runs on PostgreSQL only, to keep the suite fast (answers and logs do not "
                    "depend on the hub's own database)")
    caplog.set_level(logging.DEBUG)
    caplog.set_level(logging.DEBUG, logger=app.logger.name)
    upstream.respond("*", {"json": {"data": [], "upstream": "fixed answer"}}, sticky=True)
    tom = make_caller("tom", display_name="Tom Bystander")
    made = store_secrets(client, session, admin, member, tom, make_integration, upstream,
                         receiver)
    run_queue()  # the sync and the webhook deliveries run, with their log lines
    assert receiver.deliveries("/scan"), "the webhook was never called"
    secrets = {**SECRETS, "tom-issued-token": made["tokens"][0], "tom-token": made["tokens"][1]}
    secrets = {name: leaked_forms(value) for name, value in secrets.items()}
    ids = collect_ids(client, admin, member, tom, made)

    urls, unknown = get_urls(app, ids)
    assert not unknown, "GET routes this test cannot fill:\n" + "\n".join(unknown)
    browser = app.test_client()
    signed_in = browser.post("/api/login", json={"username": member.username,
                                                 "password": SECRETS["user-password"]})
    assert signed_in.status_code == 200, signed_in.get_data(as_text=True)

    leaks, seen, statuses = [], set(), {}
    requests = [(url, who, headers) for url in urls
                for who, headers in (("admin", admin.headers), ("member", member.headers))]
    requests += [("/api/openapi.json", "anonymous", {}), ("/login", "anonymous", {}),
                 ("/", "anonymous", {})]
    for url, who, headers in requests:
        answer = client.get(url, headers=headers)
        statuses[(url, who)] = answer.status_code
        body, head = answer_text(answer)
        leaks += find_leaks(f"GET {url} as {who}", body, secrets)
        leaks += find_leaks(f"GET {url} as {who} (headers)", head, secrets)
        seen.add(url)
    for url in ("/", "/login", "/api/me", "/api/integrations-list"):
        answer = browser.get(url)
        statuses[(url, "browser")] = answer.status_code
        body, head = answer_text(answer)
        leaks += find_leaks(f"GET {url} in mia's browser", body, secrets)
        leaks += find_leaks(f"GET {url} in mia's browser (headers)", head, secrets)

    logged = [(record.name, record_text(record)) for record in caplog.records]
    for name, text in logged:
        leaks += find_leaks(f"log record from {name}", text, secrets)

    assert statuses[("/", "browser")] == 200 and statuses[("/api/me", "browser")] == 200
    assert statuses[("/api/openapi.json", "anonymous")] == 200
    ok = sum(1 for status in statuses.values() if status < 400)
    assert ok > len(statuses) // 2, statuses  # most requests were answered, not refused
    assert logged, "nothing was logged: the capture did not work"
    unique = sorted(set(leaks))
    assert not unique, "secrets that left the hub:\n" + "\n".join(unique)
