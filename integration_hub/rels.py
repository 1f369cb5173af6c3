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
    "token": "One hub API token; DELETE revokes it.",
    "tenant": "Your tenant (organisation): its name and settings, editable by administrators.",
    "login": "Start a browser session with username and password; answers the CSRF token.",
    "logout": "End the browser session.",
}


def describe(rel: str) -> str | None:
    return RELATIONS.get(rel)
