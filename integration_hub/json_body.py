"""JSON from outside, read safely: request bodies and upstream answers.

Python's parser, marshmallow, the NUL check and the JSON encoder all recurse, so a
document nested deeper than ``MAX_DEPTH`` levels of arrays and objects is refused by a
flat scan of the bytes before anything recursive reads it (``[`` 50,000 times used to
exhaust the stack). A request body must also be text every database and parser of the
hub agrees on: strict UTF-8 without unpaired surrogates, numbers a double can hold,
no ``NaN``/``Infinity``, no key twice in one object (parsers disagree on which wins).
See docs/security.md, "Sign-in and sessions".
"""

from __future__ import annotations

import json
import math
import re
from itertools import accumulate
from typing import Any

from integration_hub import errors

MAX_DEPTH = 100  # levels of arrays and objects; the body's own object is level 1
# A JSON string, or the rest of the document after an unterminated one (possessive, so
# a scan never starts over: linear time whatever the bytes).
_STRING = re.compile(rb'"(?:[^"\\]++|\\.)*+(?:"|\\?\Z)', re.DOTALL)
_STEP = {ord("["): 1, ord("{"): 1, ord("]"): -1, ord("}"): -1}
_NOT_BRACKETS = bytes(code for code in range(256) if code not in _STEP)
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")


class BodyTooDeep(errors.MalformedBody):
    code, title = "body_too_deep", "The request body is nested too deeply"


class TooDeep(ValueError):
    """A document nested deeper than the hub reads (a ValueError, as malformed JSON is)."""


def deeper_than(document: bytes | str, limit: int = MAX_DEPTH) -> bool:
    """Whether arrays and objects outside strings nest more than ``limit`` levels."""
    raw = document.encode("utf-8", "surrogatepass") if isinstance(document, str) else document
    if raw.count(b"[") + raw.count(b"{") <= limit:
        return False
    structure = _STRING.sub(b"", raw).translate(None, _NOT_BRACKETS)
    return max(accumulate(_STEP[code] for code in structure), default=0) > limit


def loads(document: bytes | str, limit: int = MAX_DEPTH) -> Any:
    """``json.loads`` for documents from upstreams: ``TooDeep`` when nested too deeply."""
    if deeper_than(document, limit):
        raise TooDeep(f"nested deeper than {limit} levels")
    return json.loads(document)


def parse_request_body(body: bytes) -> Any:
    """The JSON document of a request body, or ``BodyTooDeep`` / ``MalformedBody``."""
    if deeper_than(body):
        raise BodyTooDeep(f"arrays and objects may nest at most {MAX_DEPTH} levels")
    try:
        text = body.decode("utf-8")
        document = json.loads(text, parse_constant=_no_constant, parse_float=_finite_float,
                              parse_int=_int_in_range, object_pairs_hook=_unique_keys)
    except UnicodeDecodeError:
        raise errors.MalformedBody("the body is not valid UTF-8") from None
    except ValueError as problem:  # JSONDecodeError, and the hooks' refusals
        raise errors.MalformedBody(f"the body is not valid JSON: {_reason(problem)}") from None
    if _SURROGATE_ESCAPE.search(text) and _has_lone_surrogate(document):
        raise errors.MalformedBody("the body is not valid JSON: a string holds an unpaired "
                                   "surrogate (\\ud800-\\udfff)")
    return document


def _reason(problem: ValueError) -> str:
    if isinstance(problem, json.JSONDecodeError):
        return f"{problem.msg} at line {problem.lineno} column {problem.colno}"
    return str(problem)


def _no_constant(name: str) -> float:
    raise ValueError(f"{name} is not a JSON number")


def _finite_float(text: str) -> float:
    number = float(text)
    if not math.isfinite(number):
        raise ValueError(f"the number {text[:20]}... is out of range")
    return number


def _int_in_range(text: str) -> int:
    number = int(text)  # more than 4300 digits: ValueError
    try:
        float(number)
    except OverflowError:
        raise ValueError(f"the number {text[:20]}... is out of range") from None
    return number


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    document = dict(pairs)
    if len(document) != len(pairs):
        seen: set[str] = set()
        twice = next(key for key, _ in pairs if key in seen or seen.add(key))
        raise ValueError(f"the key {twice[:64]!r} appears twice in one object")
    return document


def _has_lone_surrogate(document: Any) -> bool:
    try:  # nesting is bounded by now; the encoder finds a surrogate in keys and values
        json.dumps(document, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False
