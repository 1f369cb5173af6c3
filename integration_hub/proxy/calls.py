"""One call through the proxy, as the request proxy's views make it: prepared, sent, and
logged when it fails before an answer. An answer is logged once its body has been passed
on, by whoever streams it (``elapsed_ms`` then says how long the call took)."""

from __future__ import annotations

import time

import urllib3
from sqlalchemy.orm import Session

from integration_hub.config import Settings, current_settings
from integration_hub.db.models import Tenant, User
from integration_hub.integrations.store import Found
from integration_hub.outbound.upstream_http import shared_pool
from integration_hub.proxy import forwarding
from integration_hub.proxy.request_log import CallRecord, RequestLogBuffer


def forward(session: Session, user: User, found: Found, call: forwarding.ProxyCall,
            log: RequestLogBuffer) -> tuple[urllib3.BaseHTTPResponse, forwarding.Prepared]:
    """The upstream's answer to ``call`` and what was sent (its plan, its log record); the
    session is closed before the answer's body is read, so no connection of the hub's
    waits for it."""
    settings = current_settings()
    tenant = session.get(Tenant, user.tenant_id)
    prepared = forwarding.prepare(session, user, tenant, found, call, settings)
    return sent(session, prepared, call, settings, log), prepared


def sent(session: forwarding.Sessions, prepared: forwarding.Prepared,
         call: forwarding.ProxyCall, settings: Settings,
         log: RequestLogBuffer) -> urllib3.BaseHTTPResponse:
    """Send a prepared call: the upstream's answer, or the failure logged and raised.
    ``session`` is closed before the answer is read (a factory: see ``forwarding.send``)."""
    try:
        answer = forwarding.send(shared_pool(settings.proxy_deny_private), prepared, call,
                                 settings, session)
    except Exception as failure:
        prepared.record.error = getattr(failure, "code", "error")
        log.add(prepared.record, elapsed_ms(prepared.record))
        raise
    prepared.record.status = answer.status
    if isinstance(session, Session):
        session.close()  # nothing more to read: free the connection before streaming
    return answer


def elapsed_ms(record: CallRecord) -> int:
    return int((time.monotonic() - record.started) * 1000)
