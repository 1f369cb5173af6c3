"""The API token of an Authorization header (edge/authorization_header.py): Bearer, or HTTP
Basic with the token as user name and an empty password, from programs only."""

import base64

import pytest

from integration_hub import errors
from integration_hub.edge.authorization_header import MAX_BASIC, BasicFromBrowser, api_token_of

TOKEN = "ihub_example-token"
# The longest well-formed 'ihub_...:' whose base64 is at most MAX_BASIC characters.
LONGEST = "ihub_" + "a" * (MAX_BASIC * 3 // 4 - len("ihub_:"))


def basic(text: str) -> str:
    return "Basic " + base64.b64encode(text.encode()).decode()


@pytest.mark.parametrize("header", [
    f"Bearer {TOKEN}", f"bearer {TOKEN}", f"Bearer   {TOKEN}  ", basic(f"{TOKEN}:"),
    f"basic {base64.b64encode(f'{TOKEN}:'.encode()).decode()}",
], ids=["bearer", "bearer-lower", "bearer-spaces", "basic", "basic-lower"])
def test_the_token_of_a_program(header):
    assert api_token_of(header, {}) == TOKEN


@pytest.mark.parametrize("header", [
    "Bearer", "Bearer   ", "Token abc", "Digest username=x", "Basic", "Basic !!!!",
    "Basic " + base64.b64encode(b"\xff\xfe:").decode(),          # not UTF-8
    basic(TOKEN),                                                # no colon
    basic(f":{TOKEN}"),                                          # the token as password
    basic(f"{TOKEN}:secret"),                                    # a password given
    basic("alice:hunter2"),
    basic(f"{LONGEST}a:"),                                       # well-formed, too long
], ids=["bearer-empty", "bearer-blank", "other-scheme", "digest", "basic-empty",
        "basic-not-base64", "basic-not-utf8", "basic-no-colon", "basic-token-as-password",
        "basic-password", "basic-account-password", "basic-too-long"])
def test_anything_else_is_401_and_says_how(header):
    with pytest.raises(errors.AuthenticationRequired) as refused:
        api_token_of(header, {})

    assert refused.value.status == 401
    assert "hunter2" not in str(refused.value.detail) and "secret" not in refused.value.detail


@pytest.mark.parametrize("browser_header", ["Sec-Fetch-Site", "Sec-Fetch-Mode", "Sec-Fetch-Dest",
                                            "Origin"])
def test_basic_from_a_browser_is_refused(browser_header):
    with pytest.raises(BasicFromBrowser) as refused:
        api_token_of(basic(f"{TOKEN}:"), {browser_header: "x"})

    assert refused.value.code == "basic_auth_from_browser"
    assert api_token_of(f"Bearer {TOKEN}", {browser_header: "x"}) == TOKEN  # bearer is fine


def test_only_the_length_cap_refuses_a_long_basic_value():
    longest, longer = basic(f"{LONGEST}:"), basic(f"{LONGEST}a:")
    assert len(longest) - len("Basic ") == MAX_BASIC < len(longer) - len("Basic ")

    assert api_token_of(longest, {}) == LONGEST  # at the cap: well-formed, so taken
    with pytest.raises(errors.AuthenticationRequired) as refused:
        api_token_of(longer, {})
    assert "not valid base64" in refused.value.detail  # the cap's refusal, not another rule
