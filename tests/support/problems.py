"""The one check of a problem+json answer the API tests share."""

PROBLEM_KEYS = {"type", "title", "status", "detail", "code"}


def assert_problem(answer, status: int, code: str) -> dict:
    """``answer`` is RFC 9457 problem+json with this status and stable code; its body."""
    assert answer.status_code == status, answer.get_data(as_text=True)
    assert answer.mimetype == "application/problem+json"
    body = answer.get_json()
    assert PROBLEM_KEYS <= set(body)
    assert body["status"] == status
    assert body["code"] == code
    assert body["type"].endswith(code)
    return body
