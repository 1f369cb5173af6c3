"""JSON from outside, read safely: request bodies, upstream answers, and what the hub's
database gives back.

Python's parser, marshmallow, the NUL check and the JSON encoder all recurse, so a
document nested deeper than ``MAX_DEPTH`` levels of arrays and objects is refused by a
flat scan of the bytes before anything recursive reads it (``[`` 50,000 times used to
exhaust the stack). A request body must also be text every database and parser of the
hub agrees on: strict UTF-8 without unpaired surrogates, numbers a double can hold,
no ``NaN``/``Infinity``, no key twice in one object (parsers disagree on which wins).
See docs/security.md, "Sign-in and sessions".

``MAX_DEPTH`` is far below Python's recursion limit (1,000 frames, shared by
``json.loads``, ``json.dumps`` and the code around them), so whatever the hub accepts it
can read, check, store, read back and answer. The database may still hold deeper JSON
(written before bodies were limited, or by another tool): ``read_stored`` is the JSON
loader of the hub's engine, and gives the parts deeper than ``MAX_DEPTH`` back as their
JSON text instead of raising RecursionError on every page that shows them.

``merge_patch`` applies a JSON merge patch (RFC 7396), what a ``PATCH`` of a JSON object
means where the API says so (docs/api-conventions.md).
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
# A JSON string, or one bracket outside strings (the text is valid JSON: no unterminated string).
_TOKEN = re.compile(r'"(?:[^"\\]++|\\.)*+"|[\[\]{}]', re.DOTALL)


class BodyTooDeep(errors.MalformedBody):
    code, title = "body_too_deep", "The request body is nested too deeply"


class TooDeep(ValueError):
    """A document nested deeper than the hub reads (a ValueError, as malformed JSON is)."""


def deeper_than(document: bytes | str, limit: int = MAX_DEPTH) -> bool:
    """Whether arrays and objects outside strings nest more than ``limit`` levels."""
    if isinstance(document, str):
        if document.count("[") + document.count("{") <= limit:  # most documents: no copy
            return False
        raw = document.encode("utf-8", "surrogatepass")
    elif document.count(b"[") + document.count(b"{") <= limit:
        return False
    else:
        raw = document
    structure = _STRING.sub(b"", raw).translate(None, _NOT_BRACKETS)
    return max(accumulate(_STEP[code] for code in structure), default=0) > limit


def loads(document: bytes | str, limit: int = MAX_DEPTH) -> Any:
    """``json.loads`` for documents from upstreams: ``TooDeep`` when nested too deeply.
    ``NaN``, ``Infinity`` and numbers beyond a double (``1e400``), which Python's parser
    takes but no JSON answer can carry, come back as their text, as ``read_stored`` gives
    them (docs/api-conventions.md, "Numbers")."""
    if deeper_than(document, limit):
        raise TooDeep(f"nested deeper than {limit} levels")
    return json.loads(document, parse_float=_float_or_text, parse_constant=str)


def parse_request_body(body: bytes) -> Any:
    """The JSON document of a request body, or ``BodyTooDeep`` / ``MalformedBody``."""
    if deeper_than(body):
        raise BodyTooDeep(f"arrays and objects may nest at most {MAX_DEPTH} levels")
    try:
        text = body.decode("utf-8")
        document = _strict(text)
    except UnicodeDecodeError:
        raise errors.MalformedBody("the body is not valid UTF-8") from None
    except ValueError as problem:  # JSONDecodeError, and the hooks' refusals
        raise errors.MalformedBody(f"the body is not valid JSON: {reason(problem)}") from None
    if _SURROGATE_ESCAPE.search(text) and _has_lone_surrogate(document):
        raise errors.MalformedBody("the body is not valid JSON: a string holds an unpaired "
                                   "surrogate (\\ud800-\\udfff)")
    return document


def strict_loads(text: str, limit: int = MAX_DEPTH) -> Any:
    """A document from outside read by the rules of request bodies (the module's text):
    ``TooDeep`` when nested too deeply, else ValueError saying what is wrong. Lone
    surrogates and NUL characters are for the caller to look for."""
    if deeper_than(text, limit):
        raise TooDeep(f"nested deeper than {limit} levels")
    return _strict(text)


def _strict(text: str) -> Any:
    return json.loads(text, parse_constant=_no_constant, parse_float=_finite_float,
                      parse_int=_int_in_range, object_pairs_hook=_unique_keys)


def reason(problem: ValueError, lines: bool = True) -> str:
    """What a parse failure says, with where (``lines=False``: the column only, for a text
    that is one line of a file)."""
    if isinstance(problem, json.JSONDecodeError):
        where = f"line {problem.lineno} column {problem.colno}" if lines \
            else f"column {problem.colno}"
        return f"{problem.msg} at {where}"
    return str(problem)


def _no_constant(name: str) -> float:
    raise ValueError(f"{name} is not a JSON number")


def _out_of_range(text: str) -> ValueError:
    return ValueError(f"the number {text if len(text) <= 40 else text[:40] + '…'} is out of range")


def _finite_float(text: str) -> float:
    number = float(text)
    if not math.isfinite(number):  # 1e400: JSON allows it, the databases do not
        raise _out_of_range(text)
    return number


def _int_in_range(text: str) -> int:
    number = int(text)  # more than 4300 digits: ValueError
    try:
        float(number)
    except OverflowError:
        raise _out_of_range(text) from None
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


# -- what the database gives back ----------------------------------------------------------------

def read_stored(document: bytes | str, limit: int = MAX_DEPTH) -> Any:
    """The value of JSON the hub's database holds; never an error for valid JSON. Arrays and
    objects nested deeper than ``limit`` come back as their JSON text (a string), like
    upstream answers too deep to parse; so do numbers Python cannot read (an integer of more
    than 4,300 digits) or JSON cannot answer (a decimal beyond a double: ``Infinity``).
    Everything the hub accepts comes back as it was sent."""
    if isinstance(document, bytes):  # psycopg hands over bytes, SQLite text
        document = document.decode("utf-8")
    if deeper_than(document, limit):
        document = _deep_parts_as_text(document, limit)
    return json.loads(document, parse_int=_int_or_text, parse_float=_float_or_text,
                      parse_constant=str)


def _deep_parts_as_text(document: str, limit: int) -> str:
    """``document`` with every array or object that starts below ``limit`` levels replaced by
    a JSON string of its text. One flat pass, no recursion."""
    pieces, depth, start, done = [], 0, 0, 0
    for token in _TOKEN.finditer(document):
        mark = token.group()
        if mark in ("[", "{"):
            depth += 1
            if depth == limit + 1:
                start = token.start()
        elif mark in ("]", "}"):
            if depth == limit + 1:
                pieces += [document[done:start], json.dumps(document[start:token.end()])]
                done = token.end()
            depth -= 1
    pieces.append(document[done:])
    return "".join(pieces)


def _int_or_text(text: str) -> int | str:
    try:
        return int(text)
    except ValueError:  # more digits than int() reads
        return text


def _float_or_text(text: str) -> float | str:
    try:
        return _finite_float(text)
    except ValueError:
        return text


def merge_patch(target: Any, patch: Any) -> Any:
    """``target`` changed by the JSON merge patch ``patch`` (RFC 7396): the members of an
    object merge name by name, ``null`` removes one, any other value replaces what was
    there (an array as a whole). Neither argument is changed; the recursion goes no deeper
    than ``patch``, which a request body holds to ``MAX_DEPTH``."""
    if not isinstance(patch, dict):
        return patch
    merged = dict(target) if isinstance(target, dict) else {}
    for name, value in patch.items():
        if value is None:
            merged.pop(name, None)
        else:
            merged[name] = merge_patch(merged.get(name), value)
    return merged
