"""Tests for the HubError hierarchy and its problem+json body."""

from __future__ import annotations

import inspect
import re

import pytest

from integration_hub import errors

SNAKE_CASE = re.compile(r"[a-z]+(?:_[a-z]+)*")
ERROR_CLASSES = [
    cls for _, cls in inspect.getmembers(errors, inspect.isclass)
    if issubclass(cls, errors.HubError) and cls.__module__ == errors.__name__
]


def test_error_classes_found():
    assert errors.HubError in ERROR_CLASSES
    assert len(ERROR_CLASSES) >= 15


def test_status_code_pairs_are_distinct():
    pairs = [(cls.status, cls.code) for cls in ERROR_CLASSES]
    assert len(set(pairs)) == len(pairs)
    codes = [cls.code for cls in ERROR_CLASSES]
    assert len(set(codes)) == len(codes)


@pytest.mark.parametrize("cls", ERROR_CLASSES, ids=lambda c: c.__name__)
def test_error_class_attributes(cls):
    assert SNAKE_CASE.fullmatch(cls.code), cls.code
    assert isinstance(cls.status, int) and 400 <= cls.status <= 599
    assert cls.title and cls.title.strip() == cls.title


@pytest.mark.parametrize("cls", ERROR_CLASSES, ids=lambda c: c.__name__)
def test_problem_body_defaults(cls):
    body = errors.problem_body(cls())
    assert body == {
        "type": errors.PROBLEM_TYPE_BASE + cls.code,
        "title": cls.title,
        "status": cls.status,
        "detail": cls.title,
        "code": cls.code,
    }


def test_problem_body_with_detail():
    body = errors.problem_body(errors.NotFound("no such user"))
    assert body == {
        "type": "urn:integration-hub:problem:not_found",
        "title": "Not found",
        "status": 404,
        "detail": "no such user",
        "code": "not_found",
    }


@pytest.mark.parametrize(
    ("field_errors", "present"),
    [
        pytest.param(None, False, id="not-given"),
        pytest.param({"name": ["is required"]}, True, id="given"),
        pytest.param({"a": ["x"], "b": ["y", "z"]}, True, id="several-fields"),
    ],
)
def test_problem_body_errors_only_when_given(field_errors, present):
    body = errors.problem_body(errors.ValidationFailed("bad", errors=field_errors))
    if present:
        assert body["errors"] == field_errors
    else:
        assert "errors" not in body


def test_problem_body_merges_extra_fields():
    error = errors.Conflict("taken", errors={"id": ["exists"]}, resource="user", id="u1")
    body = errors.problem_body(error)
    assert body["resource"] == "user"
    assert body["id"] == "u1"
    assert body["errors"] == {"id": ["exists"]}
    assert body["code"] == "conflict" and body["status"] == 409


def test_headers_are_not_part_of_body():
    error = errors.InvalidToken()
    body = errors.problem_body(error)
    assert "headers" not in body
    assert 'error="invalid_token"' in error.headers["WWW-Authenticate"]
    assert body["status"] == 401 and body["code"] == "invalid_token"


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        (400, errors.BadRequest),
        (401, errors.AuthenticationRequired),
        (403, errors.Forbidden),
        (404, errors.NotFound),
        (405, errors.MethodNotAllowed),
        (406, errors.NotAcceptable),
        (409, errors.Conflict),
        (412, errors.PreconditionFailed),
        (413, errors.PayloadTooLarge),
        (415, errors.UnsupportedMediaType),
        (422, errors.ValidationFailed),
        (429, errors.TooManyRequests),
        (418, errors.HubError),
        (500, errors.HubError),
        (502, errors.HubError),
    ],
)
def test_http_error_class(status, expected):
    assert errors.http_error_class(status) is expected
