"""Every link relation the hub uses, with the sentence its documentation page shows.

``GET /api/rels/{rel}`` serves these; a test checks that every ``inf:`` relation
found in any response is listed here.
"""

from __future__ import annotations

RELATIONS: dict[str, str] = {
    "root": "The API root (GET /api): start here and follow links; no other address is needed.",
    "me": "The signed-in user: who the hub thinks you are, with your teams and links to your tokens.",
    "users": "The users of your tenant as a paged collection; administrators can create users here.",
    "user": "One user of the tenant, named by username (its principal id).",
    "teams": "The teams of your tenant as a paged collection; administrators can create teams here.",
    "team": "One team, named by its principal id team:<slug>, with its members.",
    "team-member": "A member of a team (templated by username): PUT sets the role, DELETE removes.",
    "tokens": "Your hub API tokens. POST creates one and shows it once; only a digest is kept.",
    "token": "One hub API token; DELETE revokes it and every token made with it.",
    "parent-token": "The token this token was made with: this one expires no later, holds no "
                    "scope it lacks, and is revoked with it.",
    "tenant": "Your tenant (organisation): its name and settings, editable by administrators.",
    "integrations": "The integrations you may read, a page at a time, with filters (q, type, "
                    "category, supportsUpload, tag, mode, authType); POST registers one.",
    "integrations-list": "Every integration you may read as a flat JSON array with ownerId, shared, "
                         "tags, sharing and connected, for galleries and pickers.",
    "integration": "One integration; PUT/PATCH change it (write access), DELETE removes it (owner).",
    "integration-shares": "The users and teams an integration is shared with and their access "
                          "levels; POST {principalId, accessLevel} shares with one more.",
    "integration-share": "The share of one principal (templated by principalId): PUT sets "
                         "accessLevel 1 read/use, 2 write, 3 share; DELETE removes it.",
    "integration-owner": "The user or team owning an integration; PUT {principalId} transfers it.",
    "integration-types": "The provider catalogue: types the hub knows with their default "
                         "endpoints, scopes and a JSON Schema for data (filters q, category).",
    "integration-type": "One provider type of the catalogue.",
    "integration-icon-registry": "Icon names and aliases: an integration without an icon gets the "
                                 "one whose alias its name contains (longest first).",
    "icon": "An icon: GET the image (or a redirect to it); for integrations PUT uploads one "
            "(PNG, JPEG, GIF, WebP or SVG, at most 512 KiB) and DELETE removes it.",
    "provision": "POST {driverType}: get the integration of a catalogue type, creating it once.",
    "tags": "Tags: the tenant's labels (POST creates one), or those on an integration.",
    "tag": "One tag; on an integration, PUT .../tags/{tagId} adds it and DELETE removes it.",
    "connect": "Connect an integration: GET starts OAuth2 in a browser (returnTo and popup "
               "optional): with the browser's session it redirects to the provider, with an "
               "API token to a one-time address on the hub for the user's browser, signed in "
               "as the same user; POST hands over a code, token, key or password.",
    "connection": "Your connection to an integration (or the shared one): status, mode, the "
                  "credentials calls send, expiry and account, never token values; status "
                  "ready when none is stored and none is needed; DELETE disconnects.",
    "connections": "Every connection of an integration (owner or administrator).",
    "refresh": "POST refreshes the connection's OAuth token now.",
    "account": "The connected account (email, displayName, accountId); refresh=true reads it again.",
    "request": "POST {url, method, params, data, headers} calls the integration's API through the "
               "hub (envelope=true wraps the answer); /request/<path> passes any method through, streamed. "
               "API tokens only, never the browser session.",
    "requests": "The integration's proxied calls (owner or administrator): method, path, status, "
                "duration, bytes; never headers or bodies.",
    "proxy-request": "One proxied call in the request log.",
    "query": "POST {sql, params, limit, timeoutMs} runs a read-only query on a database integration.",
    "schema": "The tables and columns of a database integration.",
    "test": "POST checks an integration: connects to a database, or calls data.healthCheck.",
    "records": "The records an integration fed into the hub (imports, syncs), by model and id; "
               "filters model and includeDeleted.",
    "record": "One stored record: its model, id, data and when it last changed.",
    "record-group": "One value of a data field and how many records hold it; its self link "
                    "lists those records (GET .../record-groups?model=&column=).",
    "lineage": "A record's lineage: the records it comes from (inf:upstream) and those it feeds "
               "(inf:downstream), as imported with lineages_file.",
    "upstream": "A record the one in hand comes from (its lineage).",
    "downstream": "A record the one in hand feeds (its lineage).",
    "store": "POST {op: list|get|sum, model, limit, offset, id, fields}: read the records store; "
             "sum adds numeric fields.",
    "import": "POST multipart resources_file or file (CSV with a header row, or JSON Lines) and "
              "model: upsert records by id, all or nothing unless partial=true (write access).",
    "sync": "The integration's sync: GET shows settings, whom runs act as (runAs), the running "
            "and last run and the next scheduled one; POST starts a run (202, 409 while one runs).",
    "sync-confirm": "POST takes the sync over as it is (write access): every run acts as you "
                    "from then on, and a paused schedule resumes.",
    "sync-runs": "The integration's sync runs, newest first.",
    "sync-run": "One sync run: queued, running, succeeded or failed, with counts and the error.",
    "webhooks": "The tenant's webhooks (administrators): POST subscribes a URL to events; "
                "deliveries are signed X-Hub-Signature-256: sha256=<HMAC of the body>.",
    "webhook": "One webhook: URL, events, enabled, and why the hub switched it off if it did; "
               "PUT changes it (enabled: true switches it on again), DELETE removes it.",
    "webhook-deliveries": "The webhook's deliveries, newest first, each with every attempt "
                          "(time, duration, the receiver's status, the error).",
    "webhook-delivery": "One delivery of one event to a webhook: its status, attempts and the "
                        "exact body that was signed.",
    "webhook-ping": "POST sends a ping event to the webhook now (one attempt, 202).",
    "audit": "The audit log (administrators): who did what to which target, when, from where "
             "and how it ended; filters actor, action, targetType, targetId, outcome, since, until.",
    "audit-entry": "One entry of the audit log.",
    "directories-preview": "POST {folderId, path}: the folders inside a folder of a storage "
                           "integration (Google Drive, OneDrive, SharePoint, Dropbox, Box), "
                           "read with your connection, every page of it.",
    "login": "Start a browser session with username and password; answers the CSRF token.",
    "logout": "End the browser session.",
    "sessions": "Browser sessions: DELETE signs you (on /api/me) or a user (administrators) out of "
                "every browser at once; API tokens stay valid.",
}


def describe(rel: str) -> str | None:
    return RELATIONS.get(rel)
