"""The leak detector itself must be able to fail."""

import logging

from tests.secret_watch import SecretWatch


def test_detects_a_secret_in_an_answer_and_in_a_log_line():
    watch = SecretWatch()
    watch.remember_request({"name": "visible", "clientSecret": "very-secret-value",
                            "credentials": {"password": "nested-secret-value"}, "apiKey": "short"})

    watch.check("answer", '{"name": "visible"}')
    assert watch.take_leaks() == []
    watch.check("answer", '{"oops": "very-secret-value"}')
    watch.emit(logging.LogRecord("x", logging.INFO, __file__, 1, "pw=%s", ("nested-secret-value",),
                                 None))
    leaks = watch.take_leaks()
    assert len(leaks) == 2
    assert all("very-secret-value" not in leak and "nested-secret-value" not in leak for leak in leaks)
    watch.check("answer", "short")  # too short to track without false alarms
    assert watch.take_leaks() == []


def test_link_problems_finds_undocumented_rels_and_wrong_templated_flags():
    from tests.secret_watch import link_problems

    good = {"_links": {"self": {"href": "/x"}, "inf:a": {"href": "/a/{id}", "templated": True},
                       "curies": [{"name": "inf", "href": "/rels/{rel}", "templated": True}]},
            "_embedded": {"inf:a": [{"_links": {"self": {"href": "/a/1"}}}]}}
    assert link_problems(good, {"a"}) == []
    bad = {"_links": {"inf:b": {"href": "/b"}, "inf:a": {"href": "/a/{id}"}},
           "_embedded": {"inf:a": [{"_links": {"self": {"href": "/a/1", "templated": True}}}]}}
    assert len(link_problems(bad, {"a"})) == 3
