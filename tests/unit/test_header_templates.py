"""Header templates: syntax, defaults, single pass, refusals, variables.

See docs/decisions.md, "Header templates".
"""

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from integration_hub import errors
from integration_hub.proxy.header_templates import (
    HeaderValueInvalid,
    TemplateVariableUndefined,
    expand,
    expand_headers,
    template_variables,
)

VARS = {
    "user.username": "alice",
    "user.email": "alice@example.org",
    "user.displayName": "Zoë ✓",
    "user.region": "",
    "user.cost_centre": "CC-7",
    "tenant.id": "t-1",
    "tenant.2fa": "on",
    "connection.instance_url": "https://eu1.example.my",
    "connection.account.email": "svc@example.org",
}


@pytest.mark.parametrize("template, expected", [
    ("", ""),
    ("plain text", "plain text"),
    ("${user.email}", "alice@example.org"),
    ("Bearer ${user.username}", "Bearer alice"),
    ("${user.username}/${tenant.id}/${user.username}", "alice/t-1/alice"),
    ("$<user.email>", "alice@example.org"),
    ("$<user.username>:${tenant.id}", "alice:t-1"),
    ("${connection.account.email}", "svc@example.org"),
    ("${connection.instance_url}/services", "https://eu1.example.my/services"),
    ("${user.cost_centre}", "CC-7"),
    ("${tenant.2fa}", "on"),
    ("${user.displayName}", "Zoë ✓"),
    # defaults: unknown and empty variables; a set variable ignores its default
    ("${user.country:-eu}", "eu"),
    ("${user.region:-eu}", "eu"),
    ("$<user.region:-eu>", "eu"),
    ("${user.username:-nobody}", "alice"),
    ("${user.region:-}", ""),
    ("${user.region:-a b:-c $x}", "a b:-c $x"),
    ("$<user.region:-{x}>", "{x}"),
    # escapes and lone dollars
    ("$${literal}", "${literal}"),
    ("$${user.email}", "${user.email}"),
    ("$$<x>", "$<x>"),
    ("$$${user.username}", "$${user.username}"),
    ("$$x", "$$x"),
    ("costs $5", "costs $5"),
    ("trailing $", "trailing $"),
    ("$ {user.email}", "$ {user.email}"),
    ("}>{", "}>{"),
])
def test_expand(template, expected):
    assert expand(template, VARS) == expected


@pytest.mark.parametrize("template, named", [
    ("${user.country}", "${user.country} is not set"),
    ("${user.region}", "${user.region} is not set"),          # empty without default
    ("$<user.region>", "$<user.region> is not set"),
    ("x ${tenant.missing} y", "${tenant.missing} is not set"),
    ("${user.email", "${user.email is not closed"),            # unclosed: surface the mistake
    ("$<user.email", "$<user.email is not closed"),
    ("${", "${ is not closed"),
    ("${}", "${} is not a valid variable"),
    ("${ user.email }", "${ user.email } is not a valid variable"),
    ("${user..email}", "${user..email} is not a valid variable"),
    ("${user.}", "${user.} is not a valid variable"),
    ("${1user}", "${1user} is not a valid variable"),
    ("${user-email}", "${user-email} is not a valid variable"),
    ("${user.region-eu}", "${user.region-eu} is not a valid variable"),
    ("${user.region:-${tenant.id}}", "${user.region:-${tenant.id} is not a valid variable"),
])
def test_expand_refuses_unknown_empty_and_malformed(template, named):
    with pytest.raises(TemplateVariableUndefined) as caught:
        expand(template, VARS)
    assert caught.value.errors == {"template": [named]}
    assert named.split(" is ")[0] in caught.value.detail


def test_long_unclosed_token_is_shortened_in_messages():
    with pytest.raises(TemplateVariableUndefined) as caught:
        expand("${" + "a" * 500, {})
    assert len(caught.value.detail) < 120 and "…" in caught.value.detail


def test_errors_are_validation_failures_with_stable_codes():
    assert issubclass(TemplateVariableUndefined, errors.ValidationFailed)
    assert issubclass(HeaderValueInvalid, errors.ValidationFailed)
    undefined = TemplateVariableUndefined("x", errors={"headers": ["X-A: ${a} is not set"]})
    body = errors.problem_body(undefined)
    assert (body["status"], body["code"]) == (422, "template_variable_undefined")
    assert body["errors"] == {"headers": ["X-A: ${a} is not set"]}
    assert errors.problem_body(HeaderValueInvalid())["code"] == "header_value_invalid"


@pytest.mark.parametrize("variables, template", [
    ({"user.displayName": "${tenant.secret}"}, "${user.displayName}"),
    ({"user.displayName": "$<tenant.secret>"}, "$<user.displayName>"),
    ({"user.nickname": "${tenant.x}"}, "${user.nickname}"),
    ({"user.nickname": "$${x}"}, "${user.nickname}"),
    ({"user.nickname": "${unclosed"}, "${user.nickname}"),
])
def test_values_are_never_expanded_again(variables, template):
    variables = {**variables, "tenant.secret": "S3CRET", "tenant.x": "X"}
    value = next(v for k, v in variables.items() if k.startswith("user."))
    assert expand(template, variables) == value
    assert expand_headers({"X-Name": template}, variables) == {"X-Name": value}


def test_expand_headers_expands_every_header_and_keeps_non_ascii():
    templates = {"X-User": "${user.username}", "X-Name": "$<user.displayName>",
                 "X-Region": "${user.region:-eu}", "X-Static": "v1\twith tab"}
    assert expand_headers(templates, VARS) == {
        "X-User": "alice", "X-Name": "Zoë ✓", "X-Region": "eu", "X-Static": "v1\twith tab"}
    assert expand_headers({}, VARS) == {}


def test_expand_headers_names_every_header_and_variable():
    with pytest.raises(TemplateVariableUndefined) as caught:
        expand_headers({"X-Ok": "${user.email}", "X-Region": "${user.region}",
                        "X-Both": "${a.b}-$<c>"}, VARS)
    error = caught.value
    assert error.detail.startswith("header X-Region uses ${user.region}, which is not set")
    assert error.errors == {"headers": ["X-Region: ${user.region} is not set",
                                        "X-Both: ${a.b} is not set", "X-Both: $<c> is not set"]}
    assert "alice" not in str(error.detail) + str(error.errors)


@pytest.mark.parametrize("bad", ["\r\n", "\r", "\n", "\x00", "\x7f", "\x1b", "\x0b", "\x0c",
                                 "\u2028", "\u2029", "\x85", "\x9b"])
def test_control_characters_in_a_value_are_refused_without_echoing_it(bad):
    email = f"mallory@example.org{bad}X-Injected: yes"
    with pytest.raises(HeaderValueInvalid) as caught:
        expand_headers({"X-Ok": "${user.username}", "X-Email": "<${user.email}>"},
                       {"user.username": "mallory", "user.email": email})
    error = caught.value
    assert "X-Email" in error.detail and "X-Ok" not in error.detail
    assert error.errors == {"headers": [
        f"X-Email: the value contains a control character (U+{ord(bad[0]):04X})"]}
    text = str(error) + str(error.errors)
    assert "mallory" not in text and "Injected" not in text and bad not in text


def test_control_characters_from_the_template_or_default_are_refused_too():
    for template in ("a\r\nb", "${user.region:-a\nb}"):
        with pytest.raises(HeaderValueInvalid):
            expand_headers({"X-A": template}, VARS)


def test_undefined_variables_are_reported_before_control_characters():
    with pytest.raises(TemplateVariableUndefined):
        expand_headers({"X-A": "a\nb", "X-B": "${nope}"}, VARS)


def test_tab_and_unicode_are_allowed():
    variables = {"user.email": "tab\there", "user.displayName": "Zoë ✓ 日本 😀"}
    assert expand_headers({"X-A": "${user.email}", "X-B": "${user.displayName}"}, variables) == {
        "X-A": "tab\there", "X-B": "Zoë ✓ 日本 😀"}


@pytest.mark.parametrize("template", ["${user.email", "${ x }", "ok ${a} $<>"])
def test_malformed_tokens_are_refused_whatever_is_set(template):
    with pytest.raises(TemplateVariableUndefined):
        expand(template, {**VARS, "a": "v", "x": "v"})


def variables_for(**overrides):
    arguments = dict(username="alice", display_name="Alice A.", email="alice@example.org",
                     user_fields={}, tenant_id="t-1", tenant_name="Acme", tenant_settings={},
                     connection_fields={}, account=None)
    return template_variables(**{**arguments, **overrides})


def test_template_variables_builtins():
    assert variables_for() == {"user.username": "alice", "user.displayName": "Alice A.",
                               "user.email": "alice@example.org", "tenant.id": "t-1",
                               "tenant.name": "Acme"}


def test_template_variables_omits_missing_builtins():
    variables = variables_for(display_name=None, email=None)
    assert "user.displayName" not in variables and "user.email" not in variables
    with pytest.raises(TemplateVariableUndefined):
        expand("${user.email}", variables)
    assert expand("${user.email:-none}", variables) == "none"


@pytest.mark.parametrize("value, expected", [
    ("text", "text"), ("", ""), ("Zoë", "Zoë"), (True, "true"), (False, "false"),
    (0, "0"), (42, "42"), (-3, "-3"), (1.5, "1.5"),
    (None, None), ({"a": 1}, None), (["a"], None), (("a",), None), (b"bytes", None),
])
def test_template_variables_conversions(value, expected):
    variables = variables_for(user_fields={"f": value}, tenant_settings={"s": value},
                              connection_fields={"c": value})
    for name in ("user.f", "tenant.s", "connection.c"):
        assert variables.get(name) == expected


def test_builtins_win_over_custom_fields_and_settings():
    variables = variables_for(
        user_fields={"email": "spoof@evil", "username": "root", "displayName": "Admin",
                     "region": "eu"},
        tenant_settings={"id": "other-tenant", "name": "Other", "plan": "gold"})
    assert (variables["user.email"], variables["user.username"], variables["user.displayName"]) == \
        ("alice@example.org", "alice", "Alice A.")
    assert (variables["tenant.id"], variables["tenant.name"]) == ("t-1", "Acme")
    assert (variables["user.region"], variables["tenant.plan"]) == ("eu", "gold")
    # a reserved name stays reserved even when the built-in has no value
    assert "user.email" not in variables_for(email=None, user_fields={"email": "spoof@evil"})


def test_connection_fields_and_account():
    variables = variables_for(
        connection_fields={"instance_url": "https://eu1.example.my", "ACCESS_TOKEN": "at",
                           "refresh_token": "rt", "Id_Token": "it", "client_secret": "cs",
                           "password": "pw", "API_KEY": "ak", "signature": {"nested": 1},
                           "account.email": "spoof@evil", "bad-name": "x"},
        account={"email": "svc@example.org", "displayName": "Service", "accountId": 7,
                 "avatar": "https://img"})
    connection = {k: v for k, v in variables.items() if k.startswith("connection.")}
    assert connection == {"connection.instance_url": "https://eu1.example.my",
                          "connection.account.email": "svc@example.org",
                          "connection.account.displayName": "Service",
                          "connection.account.accountId": "7"}
    assert not {"at", "rt", "it", "cs", "pw", "ak"} & set(variables.values())


def test_custom_field_names_outside_the_variable_syntax_are_skipped():
    variables = variables_for(user_fields={"first name": "A", "ok_1": "B", "a.b": "C", 3: "D"})
    assert {k for k in variables if k.startswith("user.")} == {
        "user.username", "user.displayName", "user.email", "user.ok_1", "user.a.b"}


# --- properties --------------------------------------------------------------------------------

NAMES = st.from_regex(r"[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z0-9_]+)*", fullmatch=True)
NO_DOLLAR = st.text(alphabet=st.characters(blacklist_characters="$"))
SYNTAX = st.sampled_from(["$", "{", "}", "<", ">", ":-", ".", "user.email", "a", " ", "\r\n",
                          "\t", "\x00", "\u2028", "é"])
TEMPLATEISH = st.lists(st.one_of(SYNTAX, st.text(max_size=3)), max_size=12).map("".join)
VALUES = st.one_of(st.text(), TEMPLATEISH)
VARIABLES = st.dictionaries(NAMES, VALUES, max_size=6)


@given(NO_DOLLAR, VARIABLES)
def test_text_without_dollar_is_unchanged(text, variables):
    assert expand(text, variables) == text


@given(NAMES, st.text(min_size=1), VARIABLES)
def test_a_single_reference_is_replaced_by_its_value(name, value, others):
    variables = {**others, name: value}
    assert expand("${" + name + "}", variables) == value
    assert expand("$<" + name + ">", variables) == value
    assert expand("${" + name + ":-fallback}", variables) == value


@given(NAMES, NO_DOLLAR.filter(lambda s: "}" not in s))
def test_the_default_replaces_unknown_and_empty(name, default):
    assert expand("${" + name + ":-" + default + "}", {}) == default
    assert expand("${" + name + ":-" + default + "}", {name: ""}) == default


@given(st.lists(st.tuples(NO_DOLLAR, NAMES), max_size=5), NO_DOLLAR,
       st.dictionaries(NAMES, TEMPLATEISH.filter(bool)))
@example([("a", "user.email")], "", {"user.email": "${user.email}"})
def test_expansion_is_single_pass(parts, tail, values):
    variables = {name: values.get(name, "${" + name + "}") or "x" for _, name in parts}
    template = "".join(text + "${" + name + "}" for text, name in parts) + tail
    expected = "".join(text + variables[name] for text, name in parts) + tail
    assert expand(template, variables) == expected


REFERENCING = st.lists(st.one_of(TEMPLATEISH, st.sampled_from(
    ["${user.email}", "$<a>", "${b.c:-d}", "$${a}"])), max_size=4).map("".join)


@given(st.dictionaries(st.from_regex(r"X-[A-Za-z]{1,8}", fullmatch=True), REFERENCING, max_size=4),
       st.one_of(VARIABLES, st.dictionaries(st.sampled_from(["user.email", "a", "b.c"]), VALUES)))
def test_expand_headers_returns_clean_values_or_refuses(templates, variables):
    try:
        expanded = expand_headers(templates, variables)
    except (TemplateVariableUndefined, HeaderValueInvalid):
        return
    assert expanded.keys() == templates.keys()
    for value in expanded.values():
        assert not any((ord(c) < 0x20 and c != "\t") or 0x7f <= ord(c) <= 0x9f
                       or c in "\u2028\u2029" for c in value)


@given(st.text(min_size=1), st.sampled_from(["\r", "\n", "\x00", "\x7f", "\u2028", "\x85"]),
       st.text())
def test_refusals_never_echo_the_value(before, bad, after):
    value = "PII-" + before + bad + after
    with pytest.raises(HeaderValueInvalid) as caught:
        expand_headers({"X-Email": "${user.email}"}, {"user.email": value})
    assert value not in str(caught.value) and "PII-" not in str(caught.value.errors)


@given(st.one_of(st.text(), TEMPLATEISH), VARIABLES)
def test_only_the_two_errors_are_ever_raised(template, variables):
    for call in (lambda: expand(template, variables),
                 lambda: expand_headers({"X-A": template}, variables)):
        try:
            result = call()
        except (TemplateVariableUndefined, HeaderValueInvalid):
            continue
        assert result is not None
