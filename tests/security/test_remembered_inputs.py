"""What the proxy and the integration list remember between requests is bounded whatever a
caller sends (docs/security.md, "Grants remembered by the proxy"): long targets and long
search text are worked out each time, never kept, and a refusal is never remembered."""

from __future__ import annotations

import uuid

import pytest

from integration_hub.integrations import totals
from integration_hub.proxy import url_guard

BASE = "https://api.example.com/v1"


def test_a_short_target_is_remembered_and_answers_as_the_guard_does():
    target = f"items/{uuid.uuid4().hex}"
    before = url_guard._remembered_url.cache_info().currsize  # noqa: SLF001

    first = url_guard.upstream_url(BASE, target, "a=1", ())
    again = url_guard.upstream_url(BASE, target, "a=1", ())

    assert first == again == url_guard.build_upstream_url(BASE, target, query="a=1")
    assert url_guard._remembered_url.cache_info().currsize == before + 1  # noqa: SLF001


def test_a_long_target_is_guarded_but_not_kept():
    target = "items/" + "x" * url_guard.REMEMBERED_LENGTH + uuid.uuid4().hex
    before = url_guard._remembered_url.cache_info().currsize  # noqa: SLF001

    built = url_guard.upstream_url(BASE, target, None, ())

    assert built == f"{BASE}/{target}"
    assert url_guard._remembered_url.cache_info().currsize == before  # noqa: SLF001


@pytest.mark.parametrize("target", ["../../admin", "//evil.example/x", "http://evil.example/"])
def test_a_refused_target_is_refused_every_time(target):
    for _ in range(2):
        with pytest.raises(url_guard.UrlOutsideBase):
            url_guard.upstream_url(BASE, target, None, ())


def test_long_search_text_never_becomes_a_kept_total():
    short = totals.key_of("default", ["mia"], {"q": "crm"})
    long = totals.key_of("default", ["mia"], {"q": "c" * (totals.MAX_FILTER_LENGTH + 1)})

    assert short is not None
    assert long is None
