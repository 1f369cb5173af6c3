"""Revoking the OAuth tokens of removed connections at their authorization servers:
after the removal has committed, best effort, within a deadline.

The removal never waits for a server and never fails because of one: the hub has
already forgotten the tokens when revocation starts. Revocation runs on a thread of
its own, so a server that trickles its answer holds that thread (until the outbound
timeouts end it), never the request beyond the deadline. Failures are logged with the
integration and the server's address, never a token (docs/security.md, "Deleted
principals").
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass

from flask import Flask, current_app

from integration_hub import crypto
from integration_hub.db.models import Connection, Integration
from integration_hub.oauth import client as oauth_client

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Revocation:
    """What revoking one connection's tokens needs, read before the rows go."""

    integration: Integration  # a detached copy: revocation URI and client credentials
    tokens: tuple[tuple[str, str], ...]  # (ciphertext, token_type_hint), tried in order


def planned(integration: Integration, connection: Connection) -> Revocation | None:
    """The revocation of ``connection``'s tokens, or None when there is nothing to revoke
    or nowhere to revoke it (no ``revocationUri``). The refresh token goes first: most
    servers revoke its access tokens with it (RFC 7009, section 2.1)."""
    tokens = tuple((ciphertext, hint) for ciphertext, hint in (
        (connection.refresh_token_encrypted, "refresh_token"),
        (connection.access_token_encrypted, "access_token")) if ciphertext)
    if not tokens or not integration.revocation_uri:
        return None
    copy = Integration(id=integration.id, tenant_id=integration.tenant_id,
                       revocation_uri=integration.revocation_uri,
                       client_id=integration.client_id,
                       client_secret_encrypted=integration.client_secret_encrypted,
                       basic_token_auth=integration.basic_token_auth)
    return Revocation(copy, tokens)


def revoke_all(revocations: Sequence[Revocation], deadline: float) -> bool:
    """Revoke every planned token, waiting at most ``deadline`` seconds; answers whether
    every one was tried by then (the rest goes on, or is given up, in the background)."""
    if not revocations:
        return True
    app = current_app._get_current_object()  # noqa: SLF001 - the app, for the thread
    until = time.monotonic() + deadline
    cut_short = threading.Event()  # a call was cut, or left out, by the deadline
    worker = threading.Thread(target=_revoke_each,
                              args=(app, list(revocations), until, cut_short),
                              name="revoke-removed-connections", daemon=True)
    worker.start()
    worker.join(deadline)
    # Still running, or ended because its own clock (the same deadline) ran out: both
    # are the deadline, whichever of the two threads noticed it first.
    if worker.is_alive() or cut_short.is_set():
        log.warning("revoking the tokens of %d removed connection(s) took longer than %ss; "
                    "the removal is done, what is left goes on in the background or is "
                    "given up", len(revocations), deadline)
        return False
    return True


def _revoke_each(app: Flask, revocations: list[Revocation], until: float,
                 cut_short: threading.Event) -> None:
    with app.app_context():
        for number, revocation in enumerate(revocations):
            if time.monotonic() >= until:
                cut_short.set()
                log.warning("the revocation deadline passed: the tokens of %d removed "
                            "connection(s) were not revoked", len(revocations) - number)
                return
            try:
                confirmed = _revoke(revocation, until)
            except Exception as failure:  # noqa: BLE001 - never a secret, never a crash
                if time.monotonic() >= until:
                    cut_short.set()
                log.warning("revoking the tokens of a removed connection to integration %s "
                            "failed (%s)", revocation.integration.id, type(failure).__name__)
                continue
            if not confirmed and time.monotonic() >= until:
                cut_short.set()
            if not confirmed:
                log.warning("the authorization server of integration %s did not confirm "
                            "revoking a removed connection's tokens", revocation.integration.id)


def _revoke(revocation: Revocation, until: float) -> bool:
    """True once the server confirmed revoking one of the tokens (the next is the
    fallback); no call is started after ``until``, none waits past it for a socket."""
    connect, read = oauth_client.TIMEOUT
    for ciphertext, hint in revocation.tokens:
        remaining = until - time.monotonic()
        if remaining <= 0:
            return False
        if oauth_client.revoke(revocation.integration, crypto.decrypt(ciphertext), hint,
                               timeout=(min(connect, remaining), min(read, remaining))):
            return True
    return False
