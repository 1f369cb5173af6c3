"""The request proxy (docs/decisions.md, "The request proxy"): pick the connection, build a guarded URL, add
expanded headers and credentials (to the base origin and the origins the integration
names only), send through pooled connections, follow safe redirects, retry what may be
retried, and hand back the upstream's answer: its head within a deadline, with no transaction
open meanwhile (docs/security.md, "Outbound deadlines")."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any
from urllib.parse import urlencode

import urllib3
from sqlalchemy.orm import Session

from integration_hub import errors, metrics
from integration_hub.config import Settings
from integration_hub.connections import store as connections
from integration_hub.db.models import Connection, Integration, Tenant, User
from integration_hub.db.session import end_transaction
from integration_hub.db.types import utcnow
from integration_hub.integrations.acl import Access, require
from integration_hub.integrations.credential_destinations import (
    Origin,
    receives_credentials,
)
from integration_hub.integrations.store import Found
from integration_hub.oauth import refresh as token_refresh
from integration_hub.outbound.deadlines import Deadline
from integration_hub.outbound.upstream_http import (
    IDEMPOTENT_METHODS,
    RETRYABLE_STATUSES,
    UpstreamAddressDenied,
    UpstreamTimeout,
    body_framing,
    latin1_safe,
    merge_headers,
    retry_after_seconds,
    retry_wait,
    transport_error,
    without_framing,
)
from integration_hub.proxy import rate_limits
from integration_hub.proxy import url_guard as proxy_url
from integration_hub.proxy.call_plans import CallPlan, plan_call
from integration_hub.proxy.credentials import CredentialPlacement, place_credentials
from integration_hub.proxy.request_log import CallRecord, loggable_path

MAX_REDIRECTS = 5
REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})


class RequestTooLarge(errors.PayloadTooLarge):
    code, title = "request_too_large", "The request body is larger than the proxy allows"


@dataclass
class ProxyCall:
    method: str
    target: str
    query: str | Mapping[str, Any] | None = None
    headers: Mapping[str, str] = field(default_factory=dict)
    body: bytes | Iterable[bytes] | None = None
    content_length: int | None = None
    retries: int = 0

    @property
    def replayable(self) -> bool:
        return self.body is None or isinstance(self.body, bytes)


@dataclass
class Prepared:
    plan: CallPlan
    url: str
    headers: dict[str, str]
    credential_names: set[str]         # the headers carrying credentials (none: not sent)
    record: CallRecord

    @property
    def base(self) -> str:
        return self.plan.base

    @property
    def allowed_hosts(self) -> tuple[str, ...]:
        return self.plan.allowed_hosts

    @property
    def credential_origins(self) -> frozenset[Origin]:
        return self.plan.credential_origins

    @property
    def timeout(self) -> urllib3.Timeout:  # connect, and each read of a streamed body
        return self.plan.timeout

    @property
    def answer_seconds(self) -> float:  # the whole head of the answer (``send``)
        return self.plan.read_timeout


def check_length(call: ProxyCall, settings: Settings) -> None:
    if call.content_length is not None and call.content_length > settings.proxy_max_body:
        raise RequestTooLarge(f"the proxy accepts at most {settings.proxy_max_body} bytes")


def prepare(session: Session, user: User, tenant: Tenant, found: Found, call: ProxyCall,
            settings: Settings) -> Prepared:
    """Everything a call needs before it is sent, read from the database: the checks in
    the order a caller meets them (access, an enabled integration, the body's length, the
    rate limits), then the call's plan and the call itself."""
    require(found.access, Access.READ)
    integration = found.integration
    connections.require_enabled(integration)
    check_length(call, settings)
    rate_limits.check(session, integration.id, user.username, integration.data or {})
    return prepared_call(plan_call(session, user, tenant, found, settings), call)


def prepared_call(plan: CallPlan, call: ProxyCall) -> Prepared:
    """One call under ``plan``: its guarded URL, its headers (the caller's, then the
    integration's, then the credentials), and its log record. Reads nothing."""
    placement = plan.placement
    url = proxy_url.upstream_url(plan.base, call.target, call.query, plan.allowed_hosts)
    if not receives_credentials(url, plan.base, plan.credential_origins):
        placement = CredentialPlacement()  # an allowed host, not a credential origin: none
    elif placement.params:
        url = proxy_url.build_upstream_url(plan.base, call.target,
                                           allowed_hosts=plan.allowed_hosts,
                                           query=_with_params(call.query, placement.params))
    headers = merge_headers(call.headers, plan.headers, placement.headers)
    record = CallRecord(integration_id=plan.integration_id, username=plan.username,
                        method=call.method, path=loggable_path(url),
                        connection_id=plan.connection_id, started=time.monotonic())
    return Prepared(plan, url, {k: latin1_safe(v) for k, v in headers.items()},
                    {name.lower() for name in placement.headers}, record)


def _with_params(query, params: Mapping[str, str]):
    if query is None:
        return dict(params)
    if isinstance(query, str):
        return "&".join(filter(None, [query, urlencode(params)]))
    return {**dict(query), **params}


def _counted(body: Iterable[bytes], record: CallRecord, limit: int) -> Iterator[bytes]:
    for chunk in body:
        record.bytes_sent += len(chunk)
        if record.bytes_sent > limit:
            raise RequestTooLarge(f"the proxy accepts at most {limit} bytes")
        yield chunk


Sessions = Session | Callable[[], Session]


def send(pool: urllib3.PoolManager, prepared: Prepared, call: ProxyCall, settings: Settings,
         session: Sessions, deadline: Deadline | None = None) -> urllib3.BaseHTTPResponse:
    """The upstream's answer, after safe redirects, allowed retries and one refresh on 401,
    with the session's transaction ended first. Its head comes before ``deadline``, else
    504 ``upstream_timeout``; without one, the integration's timeout from now, stopped once
    the head is in. A deadline given stays armed for the caller to read the body under.

    ``session`` may be a session factory instead, for a caller that holds none (the proxy's
    hot path): a session is then opened only for a refresh, and closed here."""
    if isinstance(session, Session):
        end_transaction(session)  # nothing of the hub's database is held while it answers
    head = Deadline(prepared.answer_seconds) if deadline is None else deadline
    opened: list[Session] = []
    try:
        answer = _send(pool, prepared, call, settings, session, head, opened)
    finally:
        for own in opened:
            own.close()
        late = deadline is None and head.stop()
        if callable(getattr(call.body, "close", None)):  # a stream it stopped sending (a
            call.body.close()  # failure, a deadline): its reading and deadline end here
    if late:  # the head came as the time ran out: its connection is shut down
        answer.release_conn()
        raise _too_late(head)
    return answer


def _too_late(deadline: Deadline) -> UpstreamTimeout:
    return UpstreamTimeout(f"the upstream did not answer within {deadline.seconds:g} s")


def _send(pool: urllib3.PoolManager, prepared: Prepared, call: ProxyCall, settings: Settings,
          session: Sessions, deadline: Deadline, opened: list[Session]) -> urllib3.BaseHTTPResponse:
    method, url, body, length = call.method, prepared.url, call.body, call.content_length
    headers = without_framing(prepared.headers)  # body_framing alone frames the body
    credential_names = prepared.credential_names
    refreshed = False
    attempt = 0
    redirects = 0
    while True:
        payload = body
        if body is not None and not isinstance(body, bytes):
            payload = _counted(body, prepared.record, settings.proxy_max_body)
        elif isinstance(body, bytes):
            prepared.record.bytes_sent = len(body)
        if deadline.expired:
            raise _too_late(deadline)
        framing, chunked = body_framing(method, payload, length)
        started = time.monotonic()
        try:
            with deadline.applies():
                answer = pool.urlopen(method, url, body=payload, headers={**headers, **framing},
                                      preload_content=False, decode_content=False,
                                      redirect=False, retries=False, timeout=prepared.timeout,
                                      chunked=chunked)
        except RequestTooLarge:
            raise
        except (urllib3.exceptions.HTTPError, OSError) as failure:
            metrics.upstream_seconds("error").observe(time.monotonic() - started)
            if deadline.expired:  # whatever the shutdown made of the call
                raise _too_late(deadline) from None
            if not isinstance(failure, urllib3.exceptions.HTTPError):
                raise
            refusal = transport_error(failure)
            wait = min(retry_wait(attempt + 1, None), settings.proxy_max_retry_wait)
            if (not isinstance(refusal, UpstreamAddressDenied) and attempt < call.retries
                    and call.replayable and method in IDEMPOTENT_METHODS
                    and wait < deadline.left()):
                attempt += 1
                time.sleep(wait)
                continue
            raise refusal from None

        status = answer.status
        metrics.upstream_seconds(metrics.status_class(status)).observe(time.monotonic() - started)
        stored = None
        if (status == 401 and not refreshed and prepared.plan.auth_type == "oauth2"
                and prepared.plan.connection_id is not None and call.replayable
                and "authorization" in credential_names):
            if not isinstance(session, Session):
                session = session()
                opened.append(session)
            stored = _stored(session, prepared.plan)
        if stored is not None:  # the token may have been revoked early: refresh it once
            refreshed = True
            _discard(answer, deadline)
            connection = token_refresh.refresh_if_needed(
                session, *stored, timedelta(seconds=settings.token_refresh_skew),
                force_after=utcnow())
            placement = place_credentials("oauth2", secrets={
                "access_token": connections.access_token_of(connection),
                "token_type": connection.token_type})
            headers = merge_headers(headers, placement.headers)
            continue
        if status in REDIRECT_STATUSES and answer.headers.get("Location") and redirects < MAX_REDIRECTS:
            target = proxy_url.redirect_target(url, answer.headers["Location"], prepared.base,
                                               prepared.allowed_hosts)
            if status == 303 or (status in (301, 302) and method not in ("GET", "HEAD")):
                method, body, length = "GET", None, None
            elif body is not None and not call.replayable:
                return answer  # cannot send a streamed body twice: let the caller follow
            _discard(answer, deadline)
            if not receives_credentials(target, prepared.base, prepared.credential_origins):
                headers = {k: v for k, v in headers.items() if k.lower() not in credential_names}
                credential_names = set()  # and they never come back on this call
            url = target
            redirects += 1
            continue
        if (status in RETRYABLE_STATUSES and attempt < call.retries and call.replayable
                and method in IDEMPOTENT_METHODS):
            wait = retry_wait(attempt + 1, retry_after_seconds(answer.headers.get("Retry-After")))
            if wait <= settings.proxy_max_retry_wait and wait < deadline.left():
                attempt += 1
                _discard(answer, deadline)
                time.sleep(wait)
                continue
        return answer


def _stored(session: Session, plan: CallPlan) -> tuple[Integration, Connection] | None:
    """The integration and connection a plan was made of, as they are now (None if either
    is gone: the upstream's refusal then stands)."""
    integration = session.get(Integration, plan.integration_id)
    connection = session.get(Connection, plan.connection_id)
    return None if integration is None or connection is None else (integration, connection)


def _discard(answer: urllib3.BaseHTTPResponse, deadline: Deadline | None = None) -> None:
    try:
        answer.drain_conn()
    finally:
        if deadline is not None:
            deadline.unwatch()  # the connection goes back to the pool: not ours to shut
        answer.release_conn()


def health_check(session: Session, user: User, tenant: Tenant, found: Found, settings: Settings,
                 pool: urllib3.PoolManager) -> tuple[bool, int, str | None]:
    """GET ``data.healthCheck`` through the proxy: (ok, latency ms, error)."""
    path = (found.integration.data or {}).get("healthCheck")
    if not path:
        return False, 0, "the integration has no data.healthCheck path to call"
    started = time.monotonic()
    try:
        call = ProxyCall(method="GET", target=str(path))
        prepared = prepare(session, user, tenant, found, call, settings)
        answer = send(pool, prepared, call, settings, session)
        status = answer.status
        _discard(answer)
    except errors.HubError as failure:
        return False, int((time.monotonic() - started) * 1000), failure.detail
    latency = int((time.monotonic() - started) * 1000)
    return (200 <= status < 300), latency, None if 200 <= status < 300 else \
        f"the health check answered {status}"
