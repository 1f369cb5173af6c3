"""The OpenAPI document and the relation pages agree on names: every ``inf:`` relation the
document names is one of integration_hub/hal/relations.py, every ``_embedded`` object names its items
``inf:<singular>`` after their schema, and every address a relation page gives is one the
document has.

Not checked here: that every relation of hal/relations.py appears in the document. The document does
not describe ``_links`` (their names are not part of any schema) and no relation page names
another, so only the embedded relations could be found; which relations the hub really
uses is for the link check every test answer goes through (tests/secret_watch.py).
"""

import html
import re

import pytest

from integration_hub.hal.relations import RELATIONS

METHODS = {"get", "put", "post", "delete", "patch"}
INF = re.compile(r"inf:([A-Za-z0-9_-]+)")
# An address on a relation page, after the method it is for if one is named: absolute
# ("GET /api"), or the tail of one ("PUT .../tags/{tagId}", "/request/<path>"). Words
# joined by a slash ("PUT/PATCH", "read/use") are no address.
ADDRESS = re.compile(r"(?:\b(GET|PUT|POST|PATCH|DELETE)\s+)?(?<![\w/.])((?:\.\.\.)?/[\w{}<>/.-]*)")
VARIABLE = re.compile(r"\{[^}]*\}|<[^>]*>")


@pytest.fixture
def spec(client):
    answer = client.get("/api/openapi.json")
    assert answer.status_code == 200
    return answer.get_json()


def _texts(node, where=""):
    """Every key and string of the document, with its JSON pointer."""
    if isinstance(node, dict):
        for key, value in node.items():
            pointer = f"{where}/{key.replace('~', '~0').replace('/', '~1')}"
            yield pointer, key
            yield from _texts(value, pointer)
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from _texts(value, f"{where}/{index}")
    elif isinstance(node, str):
        yield where, node


def test_every_relation_the_document_names_is_documented(spec):
    unknown = sorted(f"inf:{name} at #{where}" for where, text in _texts(spec)
                     for name in INF.findall(text) if name not in RELATIONS)
    assert not unknown, "relations missing from integration_hub/hal/relations.py:\n" + "\n".join(unknown)


def _camel(rel: str) -> str:
    return "".join(word.capitalize() for word in rel.split("-"))


def item_schema_names(rel: str) -> set[str]:
    """The schema names an item embedded as ``inf:<rel>`` may have: the rel in CamelCase
    (inf:sync-run -> SyncRun), or without the resource it belongs to when that is a relation
    too (inf:integration-share -> Share, inf:webhook-delivery -> Delivery); either one with
    ``Summary`` for a shorter form of the resource, as the document names them
    (ShareSummary). A collection's rel (inf:integrations) names no item schema, so this also
    holds the rel singular."""
    words = rel.split("-")
    names = {_camel(rel)} | {_camel("-".join(words[cut:])) for cut in range(1, len(words))
                             if "-".join(words[:cut]) in RELATIONS}
    return names | {f"{name}Summary" for name in names}


def _component(spec, node):
    """The name and the schema behind a ``$ref`` (None for an inline schema)."""
    ref = node.get("$ref", "")
    name = ref.removeprefix("#/components/schemas/") if ref else None
    return name, spec["components"]["schemas"][name] if name else node


def embedded_mismatches(spec) -> list[str]:
    found = []
    for owner, schema in spec["components"]["schemas"].items():
        if "_embedded" not in schema.get("properties", {}):
            continue
        _, embedded = _component(spec, schema["properties"]["_embedded"])
        if not embedded.get("properties"):
            found.append(f"{owner}._embedded documents none of the items it embeds")
        is_page = "total" in schema["properties"]
        for key, value in embedded.get("properties", {}).items():
            where = f"{owner}._embedded[{key}]"
            rel = key.removeprefix("inf:")
            if key == rel or rel not in RELATIONS:
                found.append(f"{where}: not an inf: relation of hal/relations.py")
                continue
            if is_page and value.get("type") != "array":
                found.append(f"{where}: a collection embeds its items as an array")
            item, _ = _component(spec, value.get("items", value))
            if item not in item_schema_names(rel):
                expected = " or ".join(sorted(item_schema_names(rel)))
                found.append(f"{where}: items are {item or 'an inline schema'}, but inf:{rel} "
                             f"names {expected} (inf:<singular> after the item schema)")
    return found


def test_embedded_items_are_named_after_their_schema(spec):
    mismatches = embedded_mismatches(spec)
    assert not mismatches, "embedded relations and item schemas disagree:\n" + "\n".join(mismatches)


def _normal(path: str) -> str:
    return VARIABLE.sub("{}", path)


def test_relation_pages_give_addresses_the_document_has(client, spec):
    operations = {_normal(path): {method.upper() for method in item if method in METHODS}
                  for path, item in spec["paths"].items()}
    mentioned, unknown = [], []
    for rel in RELATIONS:
        page = client.get(f"/api/rels/{rel}")
        assert page.status_code == 200, rel
        # The page's own text (its links, like the one to the API documentation, are markup).
        text = html.unescape(re.sub(r"<[^>]+>", " ", page.get_data(as_text=True)))
        for method, address in ADDRESS.findall(text):
            address = address.rstrip(".,;:")
            mentioned.append(address)
            tail = _normal(address.removeprefix("..."))
            if not any((path == tail if address.startswith("/api") else path.endswith(tail))
                       and (not method or method in methods)
                       for path, methods in operations.items()):
                unknown.append(f"inf:{rel}: {method or 'any method'} {address}")
    assert mentioned, "no relation page gives an address any more: is ADDRESS still right?"
    assert not unknown, "relation pages give addresses the OpenAPI document has not:\n" + \
        "\n".join(unknown)
