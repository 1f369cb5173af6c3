"""A minimal HAL-FORMS client for tests: read templates, fill them in, submit them.

It knows no address of the hub: targets come from the templates, and a body may
hold only the properties a template declares (with every required one).
"""

from __future__ import annotations

from typing import Any

HAL_FORMS = "application/prs.hal-forms+json"


def read(client, caller, href: str):
    """GET ``href`` asking for HAL-FORMS."""
    return client.get(href, headers={**caller.headers, "Accept": HAL_FORMS})


def templates(client, caller, href: str) -> dict[str, Any]:
    answer = read(client, caller, href)
    assert answer.status_code == 200, answer.get_data(as_text=True)
    assert answer.mimetype == HAL_FORMS
    return answer.get_json().get("_templates", {})


def submit(client, caller, template: dict[str, Any], **values: Any):
    """Send ``values`` as the template says; refuses what the template does not declare."""
    declared = {p["name"]: p for p in template["properties"]}
    unknown = set(values) - set(declared)
    assert not unknown, f"{template['title']!r} declares no {sorted(unknown)}"
    missing = {name for name, p in declared.items() if p.get("required")} - set(values)
    assert not missing, f"{template['title']!r} needs {sorted(missing)}"
    assert template.get("contentType", "application/json") == "application/json"
    return client.open(template["target"], method=template["method"],
                       headers={**caller.headers, "Accept": HAL_FORMS},
                       json=values if declared else None)


def properties(template: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {p["name"]: p for p in template["properties"]}
