"""What the start page says and offers for one integration: its card.

Pure: the integration, the caller's access to it and their connection (their own, or the
shared one) in; words, fields and buttons out. The rules are those of the API: connecting
or disconnecting a shared-mode integration needs write access (``connect_rules``),
``authType: none`` needs no connection, and an OAuth2 integration whose client id is not
set cannot be connected until an administrator sets it up.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from integration_hub.connections.connect_rules import (
    DATABASE_CATEGORY,
    connect_level,
    needs_setup,
    nothing_to_connect,
    uses_oauth,
)
from integration_hub.connections.programmatic import fields_to_connect
from integration_hub.db.models import Connection, Integration
from integration_hub.integrations.acl import Access
from integration_hub.integrations.store import usable_without_connection

AUTH_LABELS = {"oauth2": "OAuth", "apikey": "API key", "bearer": "Access token",
               "basic": "Username and password", "none": "No sign-in"}
MODE_LABELS = {"shared": "Shared", "per-user": "Personal"}
# What a connect form's field asks for: its label and the noun its placeholder uses.
FIELD_WORDS = {"apiKey": ("API key", "key"), "token": ("Access token", "access token"),
               "username": ("Username", "username"), "password": ("Password", "password")}
SECRET_FIELDS = frozenset({"apiKey", "token", "password"})
# "Replace key", "Replace token", "Replace login": what a writer's form of a shared
# integration that already works replaces (for everyone).
REPLACED = {"apiKey": "key", "token": "token", "username": "login"}
ACCOUNT_TEXT_MAX = 120  # characters of each account value shown


@dataclass(frozen=True)
class Field:
    name: str
    label: str
    placeholder: str
    secret: bool


@dataclass(frozen=True)
class Card:
    integration: Integration
    icon: str | None
    kind: str  # "API key · Shared"
    state: str  # connected, ready, warn or idle: how the state line is coloured
    state_text: str
    account: str | None = None  # "as Ada (ada@example.com)"
    note: str | None = None  # why nothing is offered, where that needs saying
    connect_link: str | None = None  # "Connect" or "Reconnect" (OAuth2: a link to the flow)
    fields: tuple[Field, ...] = field(default_factory=tuple)
    submit: str | None = None  # the label of the credentials form's button
    # Where the integration works without the caller's connection, the form is folded
    # away under this: "Change the shared key", "Use your own key".
    unfold: str | None = None
    disconnect: bool = False


def card_of(integration: Integration, access: Access, connection: Connection | None,
            icon: str | None) -> Card:
    """``connection``: the caller's own (per-user) or the shared one, if any."""
    base = {"integration": integration, "icon": icon, "kind": kind_of(integration)}
    if nothing_to_connect(integration):
        return Card(**base, state="ready", state_text="No connection needed")
    oauth = uses_oauth(integration)
    active = connection is not None and connection.status == "active"
    unset = needs_setup(integration)
    usable = usable_without_connection(integration)
    if active:
        state = {"state": "connected", "state_text": "Connected",
                 "account": account_text(connection.account or {})}
    elif connection is not None:
        state = {"state": "warn", "state_text": "Needs reconnecting"}
    elif unset:
        state = {"state": "warn", "state_text": "Needs setup by an administrator"}
    elif usable:
        state = {"state": "ready", "state_text": "Ready to use"}
    else:
        state = {"state": "idle", "state_text": "Not connected"}
    if access < connect_level(integration):  # a reader of a shared-mode integration
        note = None if active or usable else (
            "Someone who manages this shared integration connects it for everyone.")
        return Card(**base, **state, note=note)
    offers: dict[str, Any] = {"disconnect": connection is not None}
    if unset and access >= Access.WRITE:
        offers["note"] = ("To finish it, set the OAuth client id and secret registered "
                          "with the provider.")
    if oauth:
        if not active and not unset:
            offers["connect_link"] = "Connect" if connection is None else "Reconnect"
    elif not active:
        names = fields_to_connect(integration)
        offers["fields"] = tuple(field_of(name, integration) for name in names)
        offers["submit"] = "Connect" if connection is None else "Reconnect"
        if usable and connection is None:
            what = REPLACED[names[0]]
            shared = integration.mode == "shared"
            offers["unfold"] = f"Change the shared {what}" if shared else f"Use your own {what}"
            offers["submit"] = f"Replace {what}" if shared else "Connect"
    return Card(**base, **state, **offers)


def kind_of(integration: Integration) -> str:
    auth = ("Database" if integration.category == DATABASE_CATEGORY
            else AUTH_LABELS.get(integration.auth_type, integration.auth_type))
    return f"{auth} · {MODE_LABELS.get(integration.mode, integration.mode)}"


def field_of(name: str, integration: Integration) -> Field:
    label, noun = FIELD_WORDS[name]
    if integration.category == DATABASE_CATEGORY:
        label = f"Database {label.lower()}"
    what = f"{integration.name} {noun}"
    if name in ("apiKey", "token"):
        placeholder = (f"Paste the {what} everyone will use" if integration.mode == "shared"
                       else f"Paste your {what}")
    else:
        placeholder = f"The shared {what}" if integration.mode == "shared" else f"Your {what}"
    return Field(name, label, placeholder, name in SECRET_FIELDS)


def account_text(account: Mapping[str, Any]) -> str | None:
    """Which account is connected, from what the provider told: the display name, with the
    e-mail address (else the account id) beside it; else the address; else the id."""
    name, email, account_id = (_shown(account.get(key))
                               for key in ("displayName", "email", "accountId"))
    if name:
        beside = email or (account_id and f"account {account_id}")
        return f"as {name} ({beside})" if beside and beside != name else f"as {name}"
    if email:
        return f"as {email}"
    return f"as account {account_id}" if account_id else None


def _shown(value: Any) -> str | None:
    text = " ".join(str(value).split()) if value is not None else ""
    if len(text) > ACCOUNT_TEXT_MAX:
        text = text[:ACCOUNT_TEXT_MAX - 1] + "…"
    return text or None
