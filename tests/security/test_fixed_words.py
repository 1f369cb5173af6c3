"""A fixed word of a path stays fixed however it is spelled (integration_hub/edge/routing.py).

``/api/integrations/provision`` is an action; the segment in its place is otherwise an
integration's id or slug. The server decodes a path before routing, so a percent-encoded
spelling of the word is the word: it must reach the action (405 for other methods), never
the integration of that name, and never make a path under it name an integration.
"""

import pytest

from tests.support.problems import assert_problem


@pytest.mark.parametrize("spelling", ["provision", "provisio%6E", "%70%72ovision"])
def test_an_encoded_fixed_word_is_still_the_fixed_word(client, admin, spelling):
    for method in ("GET", "PUT", "DELETE"):
        answer = client.open(f"/api/integrations/{spelling}", method=method,
                             headers=admin.headers)
        assert_problem(answer, 405, "method_not_allowed")
        assert "POST" in answer.headers["Allow"] and "GET" not in answer.headers["Allow"]
    assert_problem(client.get(f"/api/integrations/{spelling}/shares", headers=admin.headers),
                   404, "not_found")


@pytest.mark.parametrize("near", ["Provision", "provision-2", "provision.", "provisions"])
def test_words_near_it_are_ids_as_any_other(client, admin, near):
    assert_problem(client.get(f"/api/integrations/{near}", headers=admin.headers),
                   404, "integration_not_found")
