"""The built-in catalogue of provider types, read from data files in the package.

Each ``catalogue/types/<type>.json`` describes a provider (endpoints, default
scopes, account field mapping, a JSON Schema for ``data``); each
``catalogue/icons/<type>.svg`` is its icon. The catalogue fills defaults when an
integration of a known type is created, provisions integrations, and matches
icons to integrations by type or name.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

from jsonschema import Draft202012Validator

from integration_hub import errors

# Catalogue keys that become integration defaults, with the attribute they fill.
DEFAULT_FIELDS = {"category": "category", "authType": "auth_type", "mode": "mode",
                  "authUri": "auth_uri", "tokenUri": "token_uri",
                  "revocationUri": "revocation_uri", "userInfoUri": "user_info_uri",
                  "scope": "scope", "apiBaseUri": "api_base_uri",
                  "basicTokenAuth": "basic_token_auth", "apiKeyLocation": "api_key_location",
                  "apiKeyName": "api_key_name", "headers": "headers"}


class UnknownType(errors.NotFound):
    code, title = "integration_type_not_found", "No such integration type in the catalogue"


@dataclass(frozen=True)
class ProviderType:
    spec: Mapping[str, Any]

    @property
    def type(self) -> str:
        return self.spec["type"]

    @property
    def name(self) -> str:
        return self.spec["name"]

    @property
    def aliases(self) -> list[str]:
        return list(self.spec.get("aliases") or [])

    def defaults(self) -> dict[str, Any]:
        """Integration attributes this type fills when they are not given."""
        values = {attribute: self.spec[key] for key, attribute in DEFAULT_FIELDS.items()
                  if self.spec.get(key) is not None}
        if self.spec.get("authParams"):
            values["data"] = {"authParams": dict(self.spec["authParams"])}
        return values


class Catalogue:
    def __init__(self, types: Mapping[str, ProviderType], common_schema: Mapping[str, Any]):
        self._types = dict(sorted(types.items(), key=lambda item: item[1].name.lower()))
        self._common_schema = common_schema
        self._validators = {name: Draft202012Validator(
            {"allOf": [common_schema, t.spec.get("dataSchema") or {"type": "object"}]})
            for name, t in self._types.items()}
        self._generic = Draft202012Validator(common_schema)

    def all(self) -> list[ProviderType]:
        return list(self._types.values())

    def find(self, type_name: str) -> ProviderType | None:
        return self._types.get(type_name)

    def get(self, type_name: str) -> ProviderType:
        found = self.find(type_name)
        if found is None:
            raise UnknownType(f"the catalogue has no type {type_name!r}")
        return found

    def search(self, q: str | None = None, category: str | None = None) -> list[ProviderType]:
        needle = (q or "").strip().lower()
        return [t for t in self._types.values()
                if (category is None or t.spec.get("category") == category)
                and (not needle or needle in t.name.lower() or needle in t.type
                     or any(needle in alias for alias in t.aliases)
                     or needle in (t.spec.get("description") or "").lower())]

    def resolve(self, driver_type: str) -> ProviderType | None:
        """A type by its name or an alias: ``googledrive`` and ``Google Drive`` find ``google-drive``."""
        key = driver_type.strip().lower()
        if key in self._types:
            return self._types[key]
        return next((t for t in self._types.values()
                     if key in t.aliases or key == t.type.replace("-", "")), None)

    def icon_for(self, type_name: str | None, name: str | None) -> ProviderType | None:
        """The type whose icon suits an integration: its own type, else the longest
        alias contained in its lower-cased name (the icon registry's rule)."""
        if type_name and type_name in self._types:
            return self._types[type_name]
        lowered = (name or "").lower()
        best = None
        for provider in self._types.values():
            for alias in provider.aliases:
                if alias and alias in lowered and (best is None or len(alias) > len(best[0])):
                    best = (alias, provider)
        return best[1] if best else None

    def data_errors(self, type_name: str, data: Mapping[str, Any]) -> dict[str, list[str]]:
        """JSON Schema problems of ``data`` for this type, keyed by the path inside data."""
        validator = self._validators.get(type_name, self._generic)
        problems: dict[str, list[str]] = {}
        for error in validator.iter_errors(dict(data)):
            path = ".".join(str(p) for p in error.absolute_path)
            problems.setdefault(f"data.{path}" if path else "data", []).append(error.message)
        return problems

    def data_schema(self, type_name: str) -> dict[str, Any]:
        provider = self.get(type_name)
        return {"allOf": [self._common_schema, provider.spec.get("dataSchema") or {"type": "object"}]}

    @staticmethod
    def icon_svg(type_name: str) -> bytes | None:
        icon = resources.files("integration_hub.catalogue") / "icons" / f"{type_name}.svg"
        return icon.read_bytes() if icon.is_file() else None


@cache
def catalogue() -> Catalogue:
    root = resources.files("integration_hub.catalogue")
    types = {}
    for entry in (root / "types").iterdir():
        if entry.name.endswith(".json"):
            provider = ProviderType(json.loads(entry.read_text(encoding="utf-8")))
            types[provider.type] = provider
    common = json.loads((root / "common-data.schema.json").read_text(encoding="utf-8"))
    return Catalogue(types, common)
