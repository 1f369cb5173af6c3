"""How a validation problem names its fields: missing, unknown or invalid."""

from integration_hub.field_errors import field_kinds, summary


def test_each_field_is_of_one_kind():
    errors = {"url": ["Missing data for required field."], "colour": ["Unknown field."],
              "events": ["Not a valid list."], "members": {0: {"username": ["Unknown field."]}}}
    assert field_kinds(errors) == {"missing": ["url"], "unknown": ["colour"],
                                   "invalid": ["events", "members"]}
    assert summary(errors) == ("missing required field: url; unknown field: colour; "
                               "invalid fields: events, members")


def test_the_body_as_a_whole_is_no_field():
    errors = {"_schema": ["Invalid input type."]}
    assert field_kinds(errors) == {"missing": [], "unknown": [], "invalid": []}
    assert summary(errors) == "the request is not valid: Invalid input type."
    assert summary({}) == "the request is not valid"
