"""How a call carries an integration's credentials, as a pure
function of the auth type and the secrets at hand."""

from __future__ import annotations

import base64
from collections.abc import Mapping
from dataclasses import dataclass, field


@dataclass(frozen=True)
class CredentialPlacement:
    headers: dict[str, str] = field(default_factory=dict)
    params: dict[str, str] = field(default_factory=dict)


def basic_authorization(username: str, password: str) -> str:
    raw = f"{username}:{password}".encode()
    return "Basic " + base64.b64encode(raw).decode("ascii")


def place_credentials(auth_type: str, *, api_key_location: str = "header",
                      api_key_name: str = "X-API-Key", secrets: Mapping[str, str | None]
                      ) -> CredentialPlacement | None:
    """Where the secrets go; None when the needed secret is missing.

    ``secrets`` holds what applies: ``access_token`` + ``token_type`` (oauth2),
    ``api_key`` (apikey, bearer), ``username`` + ``password`` (basic).
    """
    match auth_type:
        case "none":
            return CredentialPlacement()
        case "oauth2":
            token = secrets.get("access_token")
            if not token:
                return None
            scheme = secrets.get("token_type") or "Bearer"
            scheme = "Bearer" if scheme.lower() == "bearer" else scheme
            return CredentialPlacement(headers={"Authorization": f"{scheme} {token}"})
        case "bearer":
            key = secrets.get("api_key")
            return CredentialPlacement(headers={"Authorization": f"Bearer {key}"}) if key else None
        case "apikey":
            key = secrets.get("api_key")
            if not key:
                return None
            if api_key_location == "query":
                return CredentialPlacement(params={api_key_name: key})
            return CredentialPlacement(headers={api_key_name: key})
        case "basic":
            username, password = secrets.get("username"), secrets.get("password")
            if username is None or password is None:
                return None
            return CredentialPlacement(
                headers={"Authorization": basic_authorization(username, password)})
    return None
