"""A fixed word of one rule is never an id of another: a path a fixed rule takes with other
methods answers 405 with that rule's methods, not the variable rule's 404."""

import pytest
from werkzeug.exceptions import MethodNotAllowed, NotFound
from werkzeug.routing import Map

from integration_hub.edge.routing import CONVERTERS, HubRule, reserve_fixed_words


def _adapter(*rules: HubRule):
    url_map = Map(list(rules), converters=CONVERTERS)
    reserve_fixed_words(url_map)
    return url_map.bind("hub.test")


@pytest.fixture
def things():
    return _adapter(
        HubRule("/things/<thing_id>", endpoint="thing", methods=["GET", "PUT"]),
        HubRule("/things/<thing_id>/parts", endpoint="parts", methods=["GET"]),
        HubRule("/things/special", endpoint="special", methods=["POST"]),
        HubRule("/<area>/other/<item>", endpoint="other", methods=["GET"]),
        HubRule("/files/<path:name>", endpoint="file", methods=["GET"]),
        HubRule("/files/x/index", endpoint="index", methods=["POST"]))


def test_a_fixed_word_answers_its_own_methods(things):
    assert things.match("/things/special", method="POST") == ("special", {})
    for method in ("GET", "PUT", "DELETE"):
        with pytest.raises(MethodNotAllowed) as refused:
            things.match("/things/special", method=method)
        assert set(refused.value.valid_methods) == {"POST"}


def test_the_fixed_word_is_no_id_deeper_down_either(things):
    with pytest.raises(NotFound):
        things.match("/things/special/parts", method="GET")


def test_other_values_are_ids_as_before(things):
    assert things.match("/things/specials", method="GET") == ("thing", {"thing_id": "specials"})
    assert things.match("/things/special.1/parts", method="GET") == (
        "parts", {"thing_id": "special.1"})
    assert things.match("/stuff/other/special", method="GET") == (
        "other", {"area": "stuff", "item": "special"})


def test_a_fixed_word_is_no_id_wherever_it_is_fixed(things):
    # "things" is the first segment of other rules: "/<area>/other/<item>" never takes it.
    with pytest.raises(NotFound):
        things.match("/things/other/special", method="GET")


def test_a_path_variable_takes_fixed_words_for_its_methods(things):
    # ``<path:name>`` spans any number of segments: no fixed word is in its place alone.
    assert things.match("/files/x/index", method="GET") == (
        "file", {"name": "x/index"})
