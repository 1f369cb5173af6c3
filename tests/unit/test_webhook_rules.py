"""The pure webhook rules: signatures, subscriptions, retry timing, targets and payload links."""

from __future__ import annotations

import copy
import hashlib
import hmac
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from integration_hub.webhooks.rules import (
    ALL_EVENTS,
    EVENT_TYPES,
    MAX_URL_LENGTH,
    absolute_links,
    failing_too_long,
    retry_delay,
    signature,
    subscribed,
    target_problem,
    unknown_events,
)

# -- signature ----------------------------------------------------------------------------------

BODY = b'{"id":"evt-1","type":"integration.created","data":{"name":"crm"}}'
SECRET = "s3cret-s3cret-s3cret"


def expected_signature(secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode("utf-8"), body, hashlib.sha256).hexdigest()


def test_signature_matches_an_independent_hmac():
    assert signature(SECRET, BODY) == expected_signature(SECRET, BODY)


def test_signature_rfc_4231_test_case_2():
    assert signature("Jefe", b"what do ya want for nothing?") == (
        "sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
    )


def test_signature_format_is_sha256_prefix_and_64_lowercase_hex():
    value = signature(SECRET, BODY)
    prefix, hexdigest = value.split("=", 1)
    assert prefix == "sha256"
    assert len(hexdigest) == 64 and hexdigest == hexdigest.lower()
    int(hexdigest, 16)


def test_signature_of_empty_body():
    assert signature(SECRET, b"") == expected_signature(SECRET, b"")


@pytest.mark.parametrize("changed", [
    pytest.param(BODY[:-1] + b" ", id="last-byte-replaced"),
    pytest.param(BODY + b"\n", id="trailing-newline-added"),
    pytest.param(b" " + BODY, id="leading-space-added"),
    pytest.param(BODY.replace(b"crm", b"crM"), id="one-letter-case"),
    pytest.param(BODY[:-1], id="last-byte-dropped"),
])
def test_signature_covers_every_byte(changed):
    assert changed != BODY
    assert signature(SECRET, changed) != signature(SECRET, BODY)
    assert signature(SECRET, changed) == expected_signature(SECRET, changed)


def test_signature_depends_on_the_secret():
    assert signature(SECRET, BODY) != signature(SECRET + "x", BODY)


@pytest.mark.parametrize("secret", [
    pytest.param("clé-secrète-très-longue", id="latin-accents"),
    pytest.param("ключ-для-вебхуков-123", id="cyrillic"),
    pytest.param("秘密の鍵はここにあります", id="cjk"),
    pytest.param("🔑🔑🔑🔑-emoji-secret", id="emoji"),
])
def test_signature_with_unicode_secrets_uses_utf8(secret):
    assert signature(secret, BODY) == expected_signature(secret, BODY)


def test_signature_with_non_ascii_body_bytes():
    body = '{"name":"Café ☕"}'.encode()
    assert signature(SECRET, body) == expected_signature(SECRET, body)


@given(secret=st.text(min_size=1, max_size=64), body=st.binary(max_size=512))
def test_signature_property_equals_hmac(secret, body):
    assert signature(secret, body) == expected_signature(secret, body)


# -- subscribed / unknown_events ----------------------------------------------------------------

SUBSCRIBED = [
    pytest.param(["integration.created"], "integration.created", True, id="exact-match"),
    pytest.param(["integration.created", "sync.failed"], "sync.failed", True, id="one-of-several"),
    pytest.param(["integration.created"], "integration.deleted", False, id="other-event"),
    pytest.param([], "integration.created", False, id="no-events"),
    pytest.param(["*"], "integration.created", True, id="star"),
    pytest.param(["*"], "connection.reauth_required", True, id="star-any-event"),
    pytest.param(["sync.failed", "*"], "share.created", True, id="star-among-others"),
    pytest.param(["Integration.Created"], "integration.created", False, id="case-sensitive"),
    pytest.param(["integration.*"], "integration.created", False, id="no-prefix-wildcards"),
    pytest.param(("share.deleted",), "share.deleted", True, id="tuple"),
]


@pytest.mark.parametrize("events, event_type, expected", SUBSCRIBED)
def test_subscribed(events, event_type, expected):
    assert subscribed(events, event_type) is expected


def test_subscribed_accepts_a_one_shot_iterable():
    assert subscribed(iter(["sync.completed", "*"]), "share.created") is True
    assert subscribed((e for e in ["sync.completed", "sync.failed"]), "sync.failed") is True


@pytest.mark.parametrize("event_type", EVENT_TYPES)
def test_star_subscribes_to_every_event_type(event_type):
    assert subscribed([ALL_EVENTS], event_type)
    assert subscribed([event_type], event_type)


UNKNOWN = [
    pytest.param([], [], id="empty"),
    pytest.param(["*"], [], id="star"),
    pytest.param(list(EVENT_TYPES), [], id="all-known"),
    pytest.param(list(EVENT_TYPES) + ["*"], [], id="all-known-and-star"),
    pytest.param(["integration.created", "bogus"], ["bogus"], id="one-unknown"),
    pytest.param(["zeta", "sync.failed", "alpha", "*"], ["zeta", "alpha"], id="order-kept"),
    pytest.param(["Integration.Created"], ["Integration.Created"], id="case-sensitive"),
    pytest.param(["integration.*"], ["integration.*"], id="prefix-wildcard-unknown"),
    pytest.param(["ping"], ["ping"], id="ping-not-subscribable"),
    pytest.param(["", " *", "* "], ["", " *", "* "], id="blank-and-padded-star"),
    pytest.param(("sync.completed", "nope"), ["nope"], id="tuple"),
]


@pytest.mark.parametrize("events, expected", UNKNOWN)
def test_unknown_events(events, expected):
    assert unknown_events(events) == expected


# -- retry_delay --------------------------------------------------------------------------------

RETRY = [
    pytest.param(1, 120, 120, id="first-failure-waits-base"),
    pytest.param(2, 120, 240, id="second-doubles"),
    pytest.param(3, 120, 480, id="third"),
    pytest.param(4, 120, 960, id="fourth"),
    pytest.param(5, 120, 16 * 120, id="fifth-16x"),
    pytest.param(0, 120, 120, id="zero-like-one"),
    pytest.param(-3, 120, 120, id="negative-like-one"),
    pytest.param(1, 7, 7, id="other-base"),
    pytest.param(5, 7, 112, id="other-base-fifth"),
    pytest.param(3, 0, 0, id="zero-base"),
]


@pytest.mark.parametrize("failed_attempts, base, seconds", RETRY)
def test_retry_delay(failed_attempts, base, seconds):
    assert retry_delay(failed_attempts, base) == timedelta(seconds=seconds)


def test_default_schedule_puts_the_last_attempt_62_minutes_after_the_first():
    max_attempts, base = 6, 120
    waits = [retry_delay(n, base) for n in range(1, max_attempts)]
    assert waits == [timedelta(minutes=m) for m in (2, 4, 8, 16, 32)]
    assert sum(waits, timedelta()) == timedelta(minutes=62)


@given(n=st.integers(min_value=1, max_value=30), base=st.integers(min_value=1, max_value=3600))
def test_retry_delay_doubles(n, base):
    assert retry_delay(n + 1, base) == 2 * retry_delay(n, base)


# -- failing_too_long ---------------------------------------------------------------------------

NOW = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
DAY = timedelta(hours=24)

FAILING = [
    pytest.param(None, False, id="not-failing"),
    pytest.param(NOW, False, id="just-started"),
    pytest.param(NOW - DAY + timedelta(microseconds=1), False, id="one-microsecond-under"),
    pytest.param(NOW - DAY + timedelta(seconds=1), False, id="one-second-under"),
    pytest.param(NOW - DAY, True, id="exactly-at-limit"),
    pytest.param(NOW - DAY - timedelta(microseconds=1), True, id="just-over"),
    pytest.param(NOW - timedelta(days=30), True, id="long-over"),
    pytest.param(NOW + timedelta(hours=1), False, id="in-the-future"),
]


@pytest.mark.parametrize("failing_since, expected", FAILING)
def test_failing_too_long(failing_since, expected):
    assert failing_too_long(failing_since, NOW, DAY) is expected


# -- target_problem -----------------------------------------------------------------------------

ACCEPTED_TARGETS = [
    "http://example.com",
    "https://example.com/",
    "https://example.com/hooks/hub",
    "HTTPS://EXAMPLE.COM/hook",
    "http://example.com:8080/hook",
    "https://example.com:443/hook",
    "https://example.com:65535/hook",
    "https://example.com:1/hook",
    "http://[2606:4700:4700::1111]/hook",
    "http://[2606:4700:4700::1111]:8443/hook",
    "https://example.com/hook?token=abc&x=1",
    "https://example.com/hook?",
    "https://example.com/users/@me",
    "https://example.com/hook?email=a@b.example",
    "https://hooks.sub.example.co.uk/a/b/c;p=1",
    "https://example.com/%20encoded%2F",
    "https://example.com/" + "a" * (MAX_URL_LENGTH - len("https://example.com/")),
]


@pytest.mark.parametrize("url", ACCEPTED_TARGETS, ids=[u[:50] for u in ACCEPTED_TARGETS])
@pytest.mark.parametrize("deny_private", [False, True])
def test_accepted_targets(url, deny_private):
    assert target_problem(url, deny_private) is None


def test_accepted_target_at_exactly_the_maximum_length():
    url = ACCEPTED_TARGETS[-1]
    assert len(url) == MAX_URL_LENGTH


LENGTH = f"must be at most {MAX_URL_LENGTH} characters"
SPACES = "must not contain spaces or control characters"
INVALID = "is not a valid URL"
SCHEME = "must be an http or https URL"
HOST = "must name a host"
CREDENTIALS = "must not carry credentials; use the webhook's secret to authenticate deliveries"
FRAGMENT = "must not have a fragment"
PORT = "has an invalid port"

REFUSED_TARGETS = [
    pytest.param("ftp://example.com/hook", SCHEME, id="ftp"),
    pytest.param("file:///etc/passwd", SCHEME, id="file"),
    pytest.param("ws://example.com/hook", SCHEME, id="websocket"),
    pytest.param("javascript:alert(1)", SCHEME, id="javascript"),
    pytest.param("example.com/hook", SCHEME, id="no-scheme"),
    pytest.param("", SCHEME, id="empty"),
    pytest.param("https:///hook", HOST, id="no-host"),
    pytest.param("https://", HOST, id="scheme-only"),
    pytest.param("http://:8080/hook", HOST, id="port-without-host"),
    pytest.param("https://user:pass@example.com/hook", CREDENTIALS, id="user-and-password"),
    pytest.param("https://user@example.com/hook", CREDENTIALS, id="user-only"),
    pytest.param("https://:pass@example.com/hook", CREDENTIALS, id="password-only"),
    pytest.param("https://@example.com/hook", CREDENTIALS, id="empty-userinfo"),
    pytest.param("https://example.com/hook#part", FRAGMENT, id="fragment"),
    pytest.param("https://example.com/hook?x=1#part", FRAGMENT, id="fragment-after-query"),
    pytest.param("https://example.com/hook#", FRAGMENT, id="trailing-hash"),
    pytest.param("https://example.com#", FRAGMENT, id="trailing-hash-no-path"),
    pytest.param("https://example.com/a b", SPACES, id="space-in-path"),
    pytest.param(" https://example.com/hook", SPACES, id="leading-space"),
    pytest.param("https://example.com/hook ", SPACES, id="trailing-space"),
    pytest.param("https://example.com/hook\n", SPACES, id="newline"),
    pytest.param("https://example.com/ho\tok", SPACES, id="tab"),
    pytest.param("https://example.com/hook\r\nX-Injected: 1", SPACES, id="header-injection"),
    pytest.param("https://example.com/\x00", SPACES, id="nul"),
    pytest.param("https://example.com/\x1f", SPACES, id="unit-separator"),
    pytest.param("https://example.com/\x7f", SPACES, id="delete"),
    pytest.param("https://example.com/ho\x85ok", SPACES, id="c1-control-next-line"),
    pytest.param("https://example.com/a\u00a0b", SPACES, id="no-break-space"),
    pytest.param("http://r\u2003x.example.com/h", SPACES, id="em-space-in-host"),
    pytest.param("https://example.com/a\u200bb", SPACES, id="zero-width-space"),
    pytest.param("https://example.com/\u2028", SPACES, id="line-separator"),
    pytest.param("https://example.com/" + "a" * (MAX_URL_LENGTH - 19), LENGTH, id="one-over-max"),
    pytest.param("https://example.com/" + "a" * 5000, LENGTH, id="far-over-max"),
    pytest.param("https://example.com:0/hook", PORT, id="port-0"),
    pytest.param("https://example.com:abc/hook", INVALID, id="port-letters"),
    pytest.param("https://example.com:99999/hook", INVALID, id="port-too-big"),
    pytest.param("https://example.com:65536/hook", INVALID, id="port-just-too-big"),
    pytest.param("https://example.com:-1/hook", INVALID, id="port-negative"),
    pytest.param("https://example.com:+80/hook", INVALID, id="port-plus-sign"),
    pytest.param("http://[::1/hook", INVALID, id="unclosed-ipv6-bracket"),
]


@pytest.mark.parametrize("url, problem", REFUSED_TARGETS)
@pytest.mark.parametrize("deny_private", [False, True])
def test_refused_targets(url, problem, deny_private):
    assert target_problem(url, deny_private) == problem


def test_one_over_max_length_is_refused_by_length():
    assert len("https://example.com/" + "a" * (MAX_URL_LENGTH - 19)) == MAX_URL_LENGTH + 1


PRIVATE = "points at a private, loopback or link-local address (HUB_PROXY_DENY_PRIVATE is on)"

PRIVATE_TARGETS = [
    "http://localhost/hook",
    "http://LOCALHOST:8080/hook",
    "http://localhost./hook",
    "http://sub.localhost/hook",
    "https://a.b.localhost:8443/hook",
    "http://127.0.0.1/hook",
    "http://127.5.6.7:9000/hook",
    "http://10.0.0.1/hook",
    "http://10.255.255.254/hook",
    "http://172.16.0.1/hook",
    "http://192.168.1.10/hook",
    "http://169.254.169.254/latest/meta-data",
    "http://0.0.0.0/hook",
    "http://[::1]/hook",
    "http://[::1]:8080/hook",
    "http://[::]/hook",
    "http://[::ffff:127.0.0.1]/hook",
    "http://[::ffff:10.0.0.1]/hook",
    "http://[::ffff:169.254.169.254]/hook",
    "http://[fe80::1]/hook",
    "http://[fe80::1%25eth0]/hook",
    "http://[fc00::1]/hook",
    "http://224.0.0.1/hook",
    "http://127.1/hook",
    "http://2130706433/hook",
    "http://0x7f000001/hook",
    "http://0/hook",
    "http://10.1/hook",
]

PUBLIC_TARGETS = [
    "https://example.com/hook",
    "http://93.184.216.34/hook",
    "http://93.184.216.34:8080/hook",
    "http://[2606:4700:4700::1111]/hook",
    "https://localhost.example.com/hook",
    "https://mylocalhost/hook",
    "http://1.1/hook",
    "http://deadbeef.example/hook",
    "https://bücher.example/hook",
]


@pytest.mark.parametrize("url", PRIVATE_TARGETS)
def test_private_targets_refused_when_denying_private(url):
    assert target_problem(url, deny_private=True) == PRIVATE


@pytest.mark.parametrize("url", PRIVATE_TARGETS + PUBLIC_TARGETS)
def test_private_targets_pass_when_not_denying_private(url):
    assert target_problem(url, deny_private=False) is None


@pytest.mark.parametrize("url", PUBLIC_TARGETS)
def test_public_targets_pass_when_denying_private(url):
    assert target_problem(url, deny_private=True) is None


# -- absolute_links -----------------------------------------------------------------------------

BASE = "https://hub.example.com"

DOCUMENT = {
    "id": 7,
    "name": "crm",
    "path": "/not/a/link",
    "_links": {
        "self": {"href": "/api/integrations/7"},
        "curies": [{"name": "inf", "href": "/rels/{rel}", "templated": True}],
        "inf:shares": {"href": "/api/integrations/7/shares?start=0&limit=50"},
        "external": {"href": "https://docs.example.com/crm"},
        "protocol-relative": {"href": "//cdn.example.com/logo.png"},
        "relative": {"href": "x/y"},
        "empty": {"href": ""},
        "numeric": {"href": 42},
        "missing": {"title": "/no/href/here"},
    },
    "_embedded": {
        "inf:share": [
            {"user": "mia", "_links": {"self": {"href": "/api/integrations/7/shares/mia"}}},
            {"user": "bo", "_links": {"self": {"href": "/api/integrations/7/shares/bo"},
                                      "inf:user": [{"href": "/api/users/bo"}, {"href": "users/bo"}]}},
        ],
        "inf:owner": {"_links": {"self": {"href": "/api/users/root"}},
                      "_embedded": {"inf:team": [{"_links": {"self": {"href": "/api/teams/1"}}}]}},
    },
}


def expected_document(prefix: str) -> dict:
    return {
        "id": 7,
        "name": "crm",
        "path": "/not/a/link",
        "_links": {
            "self": {"href": prefix + "/api/integrations/7"},
            "curies": [{"name": "inf", "href": prefix + "/rels/{rel}", "templated": True}],
            "inf:shares": {"href": prefix + "/api/integrations/7/shares?start=0&limit=50"},
            "external": {"href": "https://docs.example.com/crm"},
            "protocol-relative": {"href": "//cdn.example.com/logo.png"},
            "relative": {"href": "x/y"},
            "empty": {"href": ""},
            "numeric": {"href": 42},
            "missing": {"title": "/no/href/here"},
        },
        "_embedded": {
            "inf:share": [
                {"user": "mia", "_links": {"self": {"href": prefix + "/api/integrations/7/shares/mia"}}},
                {"user": "bo", "_links": {"self": {"href": prefix + "/api/integrations/7/shares/bo"},
                                          "inf:user": [{"href": prefix + "/api/users/bo"},
                                                       {"href": "users/bo"}]}},
            ],
            "inf:owner": {"_links": {"self": {"href": prefix + "/api/users/root"}},
                          "_embedded": {"inf:team": [
                              {"_links": {"self": {"href": prefix + "/api/teams/1"}}}]}},
        },
    }


@pytest.mark.parametrize("base, prefix", [
    pytest.param("https://hub.example.com", "https://hub.example.com", id="no-trailing-slash"),
    pytest.param("https://hub.example.com/", "https://hub.example.com", id="trailing-slash"),
    pytest.param("https://hub.example.com/hub", "https://hub.example.com/hub", id="path-prefix"),
    pytest.param("https://hub.example.com/hub/", "https://hub.example.com/hub", id="path-prefix-slash"),
    pytest.param("http://localhost", "http://localhost", id="test-client"),
    pytest.param("http://localhost:8080/a/b//", "http://localhost:8080/a/b", id="port-and-slashes"),
])
def test_absolute_links_prefixes_absolute_path_hrefs_only(base, prefix):
    assert absolute_links(DOCUMENT, base) == expected_document(prefix)


def test_absolute_links_does_not_mutate_its_input():
    before = copy.deepcopy(DOCUMENT)
    result = absolute_links(DOCUMENT, BASE)
    assert DOCUMENT == before
    assert result["_links"] is not DOCUMENT["_links"]
    assert result["_embedded"]["inf:share"] is not DOCUMENT["_embedded"]["inf:share"]


HREFS = [
    pytest.param("/", BASE + "/", id="root"),
    pytest.param("/api/x", BASE + "/api/x", id="absolute-path"),
    pytest.param("/api/x?q=/y#z", BASE + "/api/x?q=/y#z", id="query-and-fragment"),
    pytest.param("https://other.example/api", "https://other.example/api", id="absolute-url"),
    pytest.param("http://other.example/api", "http://other.example/api", id="absolute-http"),
    pytest.param("//other.example/api", "//other.example/api", id="protocol-relative"),
    pytest.param("x/y", "x/y", id="relative"),
    pytest.param("./x", "./x", id="dot-relative"),
    pytest.param("../x", "../x", id="parent-relative"),
    pytest.param("?page=2", "?page=2", id="query-only"),
    pytest.param("", "", id="empty"),
    pytest.param("mailto:a@b.example", "mailto:a@b.example", id="other-scheme"),
]


@pytest.mark.parametrize("href, expected", HREFS)
def test_absolute_links_single_href(href, expected):
    assert absolute_links({"_links": {"self": {"href": href}}}, BASE) == {
        "_links": {"self": {"href": expected}}}


@pytest.mark.parametrize("value", [
    pytest.param(None, id="none"),
    pytest.param(3, id="int"),
    pytest.param("/api/x", id="bare-string"),
    pytest.param([], id="empty-list"),
    pytest.param({}, id="empty-dict"),
    pytest.param(["/api/x", {"href": "/api/y"}], id="list-mixed"),
])
def test_absolute_links_on_non_documents(value):
    """Without ``_links`` there is nothing to rewrite: an ``href`` outside it is data."""
    assert absolute_links(value, BASE) == value


def test_absolute_links_leave_the_resources_own_data_alone():
    document = {"_links": {"self": {"href": "/api/integrations/a"}},
                "data": {"href": "/x", "_links": {"self": {"href": "/y"}}},
                "_embedded": {"inf:item": [{"_links": {"self": {"href": "/api/i/1"}},
                                            "href": "/kept"}]}}

    assert absolute_links(document, BASE) == {
        "_links": {"self": {"href": BASE + "/api/integrations/a"}},
        "data": {"href": "/x", "_links": {"self": {"href": "/y"}}},
        "_embedded": {"inf:item": [{"_links": {"self": {"href": BASE + "/api/i/1"}},
                                    "href": "/kept"}]}}


JSON_SCALARS = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20)
KEYS = st.sampled_from(["href", "_links", "_embedded", "self", "name", "title", "templated", "path"]) \
    | st.text(max_size=8)
SAFE_HREFS = (
    st.text(max_size=20).filter(lambda s: not s.startswith("/"))
    | st.text(max_size=20).map(lambda s: "//" + s)
    | st.from_regex(r"\Ahttps?://[a-z]{1,10}\.example(/[a-z]{0,5}){0,3}\Z")
)


def _no_absolute_path_hrefs(value) -> bool:
    if isinstance(value, list):
        return all(_no_absolute_path_hrefs(v) for v in value)
    if isinstance(value, dict):
        for key, item in value.items():
            if key == "href" and isinstance(item, str) and item.startswith("/") \
                    and not item.startswith("//"):
                return False
            if not _no_absolute_path_hrefs(item):
                return False
    return True


DOCUMENTS = st.recursive(
    JSON_SCALARS | st.fixed_dictionaries({"href": SAFE_HREFS}),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(KEYS, children, max_size=4),
    max_leaves=20,
).filter(_no_absolute_path_hrefs)

BASES = st.sampled_from(["https://hub.example.com", "https://hub.example.com/", "http://localhost/hub/"])


@given(document=DOCUMENTS, base=BASES)
def test_absolute_links_leaves_documents_without_absolute_path_hrefs_equal(document, base):
    before = copy.deepcopy(document)
    assert absolute_links(document, base) == document
    assert document == before


@given(document=st.recursive(
    JSON_SCALARS | st.fixed_dictionaries({"href": SAFE_HREFS | st.from_regex(r"\A/[a-z/]{0,12}\Z")}),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(KEYS, children, max_size=4),
    max_leaves=20,
), base=BASES)
def test_absolute_links_applied_twice_equals_once(document, base):
    once = absolute_links(document, base)
    assert absolute_links(once, base) == once
