"""Browsers ask every site for /favicon.ico: the hub answers with its own icon."""

from integration_hub.integrations.svg_allowlist import svg_problems


def test_the_hub_answers_favicon_with_its_own_icon(client):
    answer = client.get("/favicon.ico")  # no credentials: browsers send none for it

    assert answer.status_code == 200
    assert answer.mimetype == "image/svg+xml"
    assert svg_problems(answer.data) == []  # inert by the rule uploaded icons must pass
    assert b"<title>" in answer.data
    assert answer.headers["X-Content-Type-Options"] == "nosniff"
    assert "script-src" not in answer.headers["Content-Security-Policy"]
    assert answer.headers["Content-Security-Policy"].startswith("default-src 'none'")
    assert answer.cache_control.max_age >= 3600
