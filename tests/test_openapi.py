"""The OpenAPI document covers every API route and error; the docs work offline."""

import re
from pathlib import Path

import pytest

METHODS = {"get", "put", "post", "delete", "patch", "head", "options"}


@pytest.fixture
def spec(client):
    answer = client.get("/api/openapi.json")
    assert answer.status_code == 200
    return answer.get_json()


def _openapi_path(rule: str) -> str:
    return re.sub(r"<(?:[^:>]+:)?([^>]+)>", r"{\1}", rule)


def test_every_api_route_and_method_is_documented(app, spec):
    documented = {(path, method.upper()) for path, ops in spec["paths"].items()
                  for method in ops if method in METHODS}
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith("/api") or rule.endpoint.startswith(("api-docs.", "api_docs")):
            continue
        for method in rule.methods - {"HEAD", "OPTIONS"}:
            assert (_openapi_path(rule.rule), method) in documented, (rule.rule, method)


def test_errors_are_documented_as_problem_json(app, spec):
    public = set()
    for rule in app.url_map.iter_rules():
        view = app.view_functions[rule.endpoint]
        if getattr(view, "hub_public", False) or getattr(getattr(view, "view_class", None),
                                                          "hub_public", False):
            public.add(_openapi_path(rule.rule))
    assert "/api/login" in public and "/api/rels/{rel}" in public
    for path, operations in spec["paths"].items():
        for method, operation in operations.items():
            if method in METHODS and path not in public:
                assert "401" in operation["responses"], (path, method)
    problem = spec["components"]["responses"]["UNAUTHORIZED"]["content"]
    assert list(problem) == ["application/problem+json"]
    assert "code" in spec["components"]["schemas"]["Problem"]["properties"]


def test_hal_responses_are_documented_as_hal(spec):
    me = spec["paths"]["/api/me"]["get"]["responses"]["200"]["content"]
    assert "application/hal+json" in me


def test_security_schemes(spec):
    assert spec["components"]["securitySchemes"]["bearerAuth"]["scheme"] == "bearer"
    assert spec["openapi"].startswith("3.1")


def test_swagger_ui_is_served_by_the_hub_itself(client):
    page = client.get("/api/docs")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assets = re.findall(r'(?:src|href)="([^"]+)"', html)
    assert assets, html
    kinds = {".css": "text/css", ".js": "text/javascript", ".png": "image/png"}
    for asset in assets:
        assert asset.startswith("/api/docs/assets/"), asset
        fetched = client.get(asset)
        assert fetched.status_code == 200 and fetched.data, asset
        assert fetched.mimetype == kinds[asset[asset.rindex("."):]], (asset, fetched.mimetype)
    assert "http://" not in html and "https://" not in html


def test_the_api_docs_page_has_no_inline_script_and_the_hubs_policy(client):
    """Swagger UI starts from a file of the hub's, so the page keeps the policy every other
    page has: script-src 'self', nothing inline."""
    page = client.get("/api/docs")
    html = page.get_data(as_text=True)
    scripts = re.findall(r"<script([^>]*)>(.*?)</script>", html, re.S)
    assert scripts and all('src="' in attributes and not body.strip()
                           for attributes, body in scripts), scripts
    assert not re.search(r"<[^>]*\son[a-z]+\s*=", html, re.I), html  # no onload= and the like
    policy = page.headers["Content-Security-Policy"]
    assert policy == client.get("/login").headers["Content-Security-Policy"]
    assert "unsafe" not in policy


def test_the_readme_names_every_answer_that_is_not_hal(spec):
    """README says which answers are HAL: every operation the document says answers plain
    JSON is named in "Driving the API from links and forms" (path parameters as {id})."""
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")
    readme = readme.split("## Driving the API from links and forms", 1)[1].split("\n## ", 1)[0]
    plain = sorted({f"{method.upper()} {re.sub(r'{[^}]+}', '{id}', path)}"
                    for path, operations in spec["paths"].items()
                    for method, operation in operations.items() if method in METHODS
                    for status, response in operation["responses"].items()
                    if status.startswith("2")
                    and "application/json" in (response.get("content") or {})})
    assert "GET /api/integrations-list" in plain  # what the check looks for is there
    unnamed = [operation for operation in plain if operation.split(" ", 1)[1] not in readme]
    assert not unnamed, f"README does not say these answer plain JSON: {unnamed}"
