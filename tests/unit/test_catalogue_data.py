"""The provider catalogue data files (types, icons, common data schema), checked straight from disk."""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from pathlib import Path
from urllib.parse import urlsplit

import jsonschema
import pytest

import integration_hub

CATALOGUE = Path(integration_hub.__file__).parent / "catalogue"
TYPES_DIR = CATALOGUE / "types"
ICONS_DIR = CATALOGUE / "icons"
COMMON_SCHEMA = CATALOGUE / "common-data.schema.json"

SVG_NS = "{http://www.w3.org/2000/svg}"
MAX_ICON_BYTES = 4096

REQUIRED_KEYS = {
    "type", "name", "description", "category", "aliases", "authType", "mode", "authUri", "tokenUri",
    "revocationUri", "userInfoUri", "scope", "apiBaseUri", "basicTokenAuth", "apiKeyLocation",
    "apiKeyName", "headers", "authParams", "accountFields", "supportsUpload", "dataSchema", "docsUrl",
}
URL_KEYS = ("authUri", "tokenUri", "revocationUri", "userInfoUri", "apiBaseUri", "docsUrl")
CATEGORIES = {
    "storage", "email", "spreadsheet", "productivity", "development", "communication", "crm", "video",
    "project-management", "payments", "ai", "custom", "database",
}
AUTH_TYPES = {"oauth2", "apikey", "basic", "bearer", "none"}
MODES = {"per-user", "shared"}
ACCOUNT_FIELDS = {"email", "displayName", "accountId"}
EXPECTED_TYPES = {
    "google-drive", "gmail", "google-sheets", "microsoft-graph", "onedrive", "sharepoint", "dropbox", "box",
    "github", "gitlab", "bitbucket", "slack", "notion", "salesforce", "hubspot", "zoom", "jira",
    "confluence", "asana", "linear", "stripe", "openai", "twilio", "custom", "database", "postgresql",
    "mysql", "sqlite",
}
UPLOAD_TYPES = {"google-drive", "onedrive", "sharepoint", "dropbox", "box"}
TYPE_RE = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
PLACEHOLDER_RE = re.compile(r"\$\{connection\.[A-Za-z_][A-Za-z0-9_]*\}")
DOTTED_PATH_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*$")

TYPE_FILES = sorted(TYPES_DIR.glob("*.json"))
TYPE_IDS = [path.stem for path in TYPE_FILES]


def load(path: Path) -> dict:
    return json.loads(path.read_text(encoding="utf-8"))


def substitute_placeholders(url: str) -> str:
    """`${connection.x}` stands for a whole origin at the start of a URL, for a plain segment elsewhere."""
    return PLACEHOLDER_RE.sub(
        lambda match: "https://connection.example" if match.start() == 0 else "connection-value", url)


def https_problem(url: str) -> str | None:
    parts = urlsplit(url)
    if parts.scheme != "https":
        return "not https"
    if not parts.hostname:
        return "no host"
    if "${" in url or any(ch.isspace() for ch in url):
        return "unresolved placeholder or whitespace"
    return None


# --- the catalogue as a whole ------------------------------------------------------------------------------

def test_enough_type_files():
    assert len(TYPE_FILES) >= 25


def test_expected_types_present():
    assert EXPECTED_TYPES <= set(TYPE_IDS), sorted(EXPECTED_TYPES - set(TYPE_IDS))


def test_no_icon_without_a_type_file():
    orphans = {path.stem for path in ICONS_DIR.iterdir()} - set(TYPE_IDS)
    assert not orphans
    assert all(path.suffix == ".svg" for path in ICONS_DIR.iterdir())


def test_aliases_unique_across_types():
    owner: dict[str, str] = {}
    for path in TYPE_FILES:
        for alias in load(path)["aliases"]:
            assert alias not in owner, f"alias {alias!r} used by {owner[alias]} and {path.stem}"
            owner[alias] = path.stem


def test_common_data_schema():
    schema = load(COMMON_SCHEMA)
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    jsonschema.Draft202012Validator.check_schema(schema)
    assert schema["type"] == "object"
    assert schema["additionalProperties"] is True
    properties = schema["properties"]
    assert set(properties) >= {"authParams", "pkce", "allowedHosts", "forwardHeaders", "timeout",
                               "healthCheck", "sync"}
    assert all(prop.get("description") for prop in properties.values())

    validator = jsonschema.Draft202012Validator(schema)
    good = {"authParams": {"prompt": "consent"}, "pkce": True, "allowedHosts": ["api.example.com"],
            "forwardHeaders": ["X-Request-Id"], "timeout": 2.5, "healthCheck": "/user",
            "sync": {"path": "/items", "pagination": "cursor", "schedule": {"intervalMinutes": 60}},
            "somethingElse": 1}
    assert not list(validator.iter_errors(good))
    for bad in ({"authParams": {"prompt": 1}}, {"pkce": "yes"}, {"allowedHosts": "api.example.com"},
                {"allowedHosts": [1]}, {"forwardHeaders": [3]}, {"timeout": 0}, {"timeout": -1},
                {"timeout": "10"}, {"healthCheck": 5}, {"sync": []}, {"sync": {"interval": 60}},
                {"sync": {"path": "/x", "pagination": "offset"}},
                {"sync": {"path": "/x", "schedule": {"intervalMinutes": 0}}}):
        assert list(validator.iter_errors(bad)), bad


# --- each type file ----------------------------------------------------------------------------------------

@pytest.mark.parametrize("path", TYPE_FILES, ids=TYPE_IDS)
def test_keys_and_name(path):
    data = load(path)
    assert set(data) == REQUIRED_KEYS, {"missing": REQUIRED_KEYS - set(data),
                                        "unknown": set(data) - REQUIRED_KEYS}
    assert data["type"] == path.stem
    assert TYPE_RE.match(data["type"])
    assert isinstance(data["name"], str) and data["name"].strip()
    assert isinstance(data["description"], str) and data["description"].strip()


@pytest.mark.parametrize("path", TYPE_FILES, ids=TYPE_IDS)
def test_enums_and_flags(path):
    data = load(path)
    assert data["category"] in CATEGORIES
    assert data["authType"] in AUTH_TYPES
    assert data["mode"] in MODES
    assert data["apiKeyLocation"] in {"header", "query"}
    assert isinstance(data["apiKeyName"], str) and data["apiKeyName"]
    assert isinstance(data["basicTokenAuth"], bool)
    assert isinstance(data["supportsUpload"], bool)
    assert data["supportsUpload"] is (data["type"] in UPLOAD_TYPES)
    if data["category"] == "database":
        assert data["authType"] == "none" and data["mode"] == "shared" and data["apiBaseUri"] is None


@pytest.mark.parametrize("path", TYPE_FILES, ids=TYPE_IDS)
def test_auth_endpoints(path):
    data = load(path)
    if data["authType"] == "oauth2":
        assert data["authUri"] and data["tokenUri"]
    else:
        assert data["authUri"] is None and data["tokenUri"] is None and data["revocationUri"] is None
        assert data["basicTokenAuth"] is False
        assert data["authParams"] == {}
    assert data["scope"] is None or (isinstance(data["scope"], str) and data["scope"] == data["scope"].strip()
                                     and "  " not in data["scope"] and data["scope"])


@pytest.mark.parametrize("path", TYPE_FILES, ids=TYPE_IDS)
def test_urls_are_absolute_https(path):
    data = load(path)
    for key in URL_KEYS:
        url = data[key]
        if url is None:
            continue
        assert isinstance(url, str)
        if key == "apiBaseUri":
            url = substitute_placeholders(url)
        assert https_problem(url) is None, f"{key}: {data[key]!r} ({https_problem(url)})"


@pytest.mark.parametrize("path", TYPE_FILES, ids=TYPE_IDS)
def test_string_maps(path):
    data = load(path)
    for key in ("headers", "authParams"):
        assert isinstance(data[key], dict)
        assert all(isinstance(k, str) and k and isinstance(v, str) for k, v in data[key].items()), key


@pytest.mark.parametrize("path", TYPE_FILES, ids=TYPE_IDS)
def test_account_fields(path):
    data = load(path)
    fields = data["accountFields"]
    if data["userInfoUri"] is None:
        assert fields is None
        return
    assert isinstance(fields, dict) and set(fields) == ACCOUNT_FIELDS
    assert any(value is not None for value in fields.values())
    for value in fields.values():
        assert value is None or DOTTED_PATH_RE.match(value), value


@pytest.mark.parametrize("path", TYPE_FILES, ids=TYPE_IDS)
def test_aliases(path):
    data = load(path)
    aliases = data["aliases"]
    assert isinstance(aliases, list) and aliases
    assert all(isinstance(alias, str) and alias == alias.lower() and alias.strip() == alias and alias
               for alias in aliases)
    assert len(set(aliases)) == len(aliases)
    assert [len(a) for a in aliases] == sorted((len(a) for a in aliases), reverse=True)
    assert data["name"].lower() in aliases
    assert data["type"].replace("-", "") in aliases


@pytest.mark.parametrize("path", TYPE_FILES, ids=TYPE_IDS)
def test_data_schema(path):
    schema = load(path)["dataSchema"]
    jsonschema.Draft202012Validator.check_schema(schema)
    assert schema["type"] == "object"
    assert schema.get("additionalProperties", True) is True
    assert isinstance(schema.get("properties", {}), dict)
    assert set(schema.get("required", [])) <= set(schema.get("properties", {}))
    assert all(prop.get("description") for prop in schema.get("properties", {}).values())


@pytest.mark.parametrize("path", TYPE_FILES, ids=TYPE_IDS)
def test_icon(path):
    icon = ICONS_DIR / f"{path.stem}.svg"
    assert icon.is_file()
    raw = icon.read_bytes()
    assert len(raw) < MAX_ICON_BYTES
    assert b"<!DOCTYPE" not in raw.upper() and b"<!ENTITY" not in raw.upper()
    root = ET.fromstring(raw)
    assert root.tag == f"{SVG_NS}svg"
    assert root.find(f"{SVG_NS}title") is not None and root.find(f"{SVG_NS}title").text
    for element in root.iter():
        local = element.tag.rsplit("}", 1)[-1].lower()
        assert local not in {"script", "foreignobject", "image"}, element.tag
        for name, value in element.attrib.items():
            attr = name.rsplit("}", 1)[-1].lower()
            assert not attr.startswith("on"), name
            assert not re.search(r"https?:", value, re.IGNORECASE), (name, value)
            if attr == "href":
                assert value.startswith("#"), (name, value)


# --- the placeholder helper --------------------------------------------------------------------------------

@pytest.mark.parametrize("url, expected", [
    ("${connection.instance_url}/services/data/v61.0", "https://connection.example/services/data/v61.0"),
    ("https://api.atlassian.com/ex/jira/${connection.cloud_id}",
     "https://api.atlassian.com/ex/jira/connection-value"),
    ("https://api.example.com", "https://api.example.com"),
])
def test_substitute_placeholders(url, expected):
    assert substitute_placeholders(url) == expected
    assert https_problem(substitute_placeholders(url)) is None


@pytest.mark.parametrize("url", ["http://example.com", "https:///path", "//example.com", "/relative",
                                 "https://${connection.host}/x"])
def test_https_problem_rejects(url):
    assert https_problem(url) is not None
