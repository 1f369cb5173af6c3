"""The records store's ``where``, ``sort`` and ``fields`` parameters, read into a small tree.

``where`` is NocoDB's syntax, ``(field,op,value)~and(field,op,value)~or(...)``, with
``~not`` and parentheses for groups. NocoDB reads the chain left to right; here ``~not``
binds tightest, then ``~and``, then ``~or``, as in SQL and most languages, so that
``a~or b~and c`` means what a reader of SQL expects. ``\\`` before ``,``, ``(``, ``)``, ``~``
or ``\\`` writes that character into a value; an unescaped ``(`` or ``~`` in a value is
refused rather than guessed at, so a missing ``)`` is reported where it is missing.

Pure: text in, frozen dataclasses out (records/filters.py turns them into SQL). Every
input is bounded before it is read (length, terms, nesting, values, keys), and the nesting
bound is checked before each step down, so no string drives the recursion far. Problems
raise ``WhereInvalid``, ``SortInvalid`` or ``FieldsInvalid`` (422) naming the term or
character; a message echoes at most ``ECHO`` characters of what was sent.

See docs/decisions.md, "Filtering and sorting records".
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from integration_hub import errors
from integration_hub.records.names import FIELD_PATTERN

MAX_WHERE_LENGTH = 2000
MAX_TERMS = 50
MAX_DEPTH = 8  # groups and ~not inside one another
MAX_IN_VALUES = 100
MAX_SORT_KEYS = 10
MAX_FIELDS = 50
ECHO = 64  # characters of a term (or name) a message repeats
# Each name is at most 64 characters, with a "-" and a ",": longer lists are refused unread.
_MAX_NAME_LIST = 66

ARITY = {"eq": (1, 1), "neq": (1, 1), "gt": (1, 1), "ge": (1, 1), "lt": (1, 1), "le": (1, 1),
         "like": (1, 1), "nlike": (1, 1), "in": (1, MAX_IN_VALUES), "btw": (2, 2),
         "blank": (0, 0), "notblank": (0, 0)}
OPERATORS = frozenset(ARITY)
_ARITY_PROBLEMS = {"blank": "blank takes no value", "notblank": "notblank takes no value",
                   "btw": "btw takes two values, the lower and the upper bound",
                   "in": f"in takes 1 to {MAX_IN_VALUES} values"}
ESCAPED = ",()~\\"
# PostgreSQL text cannot hold NUL, and neither database takes a lone surrogate.
_UNSENDABLE = re.compile("[\x00\ud800-\udfff]")
# A JSON number exactly (ASCII digits: \d would take other scripts' digits, as float() does).
_JSON_NUMBER = re.compile(r"-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?")


class WhereInvalid(errors.ValidationFailed):
    code, title = "where_invalid", "The where filter is not valid"


class SortInvalid(errors.ValidationFailed):
    code, title = "sort_invalid", "The sort order is not valid"


class FieldsInvalid(errors.ValidationFailed):
    code, title = "fields_invalid", "The field list is not valid"


@dataclass(frozen=True, slots=True)
class Term:
    """``(field,op,values...)``; values are text (``number`` reads one as a number too)."""
    field: str
    op: str
    values: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class And:
    items: tuple[Node, ...]


@dataclass(frozen=True, slots=True)
class Or:
    items: tuple[Node, ...]


@dataclass(frozen=True, slots=True)
class Not:
    item: Node


Node = Term | And | Or | Not


@dataclass(frozen=True, slots=True)
class SortKey:
    field: str
    descending: bool = False


def is_field(name: str) -> bool:
    """The rule for field names (records/names.py)."""
    return FIELD_PATTERN.fullmatch(name) is not None


def number(value: str) -> float | None:
    """The value as a number when it is written exactly as a JSON number (``10``, ``-2.5``,
    ``1e3``; not ``+1``, ``.5`` or ``010``), as the nearest double; else None."""
    return float(value) if _JSON_NUMBER.fullmatch(value) else None


def shown(text: str, limit: int = ECHO) -> str:
    """At most ``limit`` characters of user input, unprintable ones as ``\\uXXXX``."""
    cut = text[:limit]
    safe = "".join(c if c.isprintable() else f"\\u{ord(c):04x}" for c in cut)
    return safe + ("…" if len(text) > limit else "")


# -- where --------------------------------------------------------------------------------------

def parse_where(text: str | None) -> Node | None:
    """The filter ``text`` writes; None (every record) when it is empty or missing."""
    if text is None or text == "":
        return None
    if not isinstance(text, str):
        raise _where_invalid("must be text")
    if len(text) > MAX_WHERE_LENGTH:
        raise _where_invalid(f"longer than {MAX_WHERE_LENGTH} characters")
    if (bad := _UNSENDABLE.search(text)) is not None:
        raise _where_invalid(f"at character {bad.start() + 1}: NUL and lone surrogate "
                             "characters are not allowed")
    return _Parser(text).parse()


def _where_invalid(message: str) -> WhereInvalid:
    return WhereInvalid(f"where: {message}", errors={"where": [message]})


class _Parser:
    """Recursive descent over ``or := and (~or and)*``, ``and := unary (~and unary)*``,
    ``unary := ~not unary | ( or ) | term``. A ``(`` followed by ``(`` or ``~`` opens a
    group, by anything else a term (a field name starts with neither)."""

    def __init__(self, text: str) -> None:
        self.text, self.at, self.terms = text, 0, 0

    def parse(self) -> Node:
        node = self.disjunction(0)
        if self.text.startswith(")", self.at):
            raise _where_invalid(f"at character {self.at + 1}: ')' closes no group")
        if self.at < len(self.text):
            raise self.unexpected("~and, ~or or the end")
        return node

    def disjunction(self, depth: int) -> Node:
        items = [self.conjunction(depth)]
        while self.take("~or"):
            items.append(self.conjunction(depth))
        return items[0] if len(items) == 1 else Or(tuple(items))

    def conjunction(self, depth: int) -> Node:
        items = [self.unary(depth)]
        while self.take("~and"):
            items.append(self.unary(depth))
        return items[0] if len(items) == 1 else And(tuple(items))

    def unary(self, depth: int) -> Node:
        if self.take("~not"):
            return Not(self.unary(self.deeper(depth)))
        if not self.text.startswith("(", self.at):
            raise self.unexpected("'(' or '~not'")
        if self.text[self.at + 1:self.at + 2] in ("(", "~"):
            self.at += 1
            node = self.disjunction(self.deeper(depth))
            if not self.take(")"):
                raise self.unexpected("~and, ~or or ')'")
            return node
        return self.term()

    def term(self) -> Term:
        self.terms += 1
        if self.terms > MAX_TERMS:
            raise _where_invalid(f"term {self.terms}: more than {MAX_TERMS} terms")
        start = self.at
        self.at += 1
        field = self.word()
        if not is_field(field):
            raise self.term_error(start, "the field name is not 1-64 letters, digits, '_' "
                                         "or '-'")
        if not self.take(","):
            raise self.term_error(start, "expected ',' and an operator after the field name")
        op = self.word()
        if op not in OPERATORS:
            raise self.term_error(start, f"unknown operator '{shown(op, 16)}'")
        values: list[str] = []
        while self.take(","):
            if len(values) == MAX_IN_VALUES:
                raise self.term_error(start, f"more than {MAX_IN_VALUES} values")
            values.append(self.value(start))
        if not self.take(")"):
            raise self.term_error(start, "missing ')' at the end")
        least, most = ARITY[op]
        if not least <= len(values) <= most:
            raise self.term_error(start, _ARITY_PROBLEMS.get(
                op, f"{op} takes one value (write '\\,' for a comma in a value)"))
        return Term(field, op, tuple(values))

    def word(self) -> str:
        """A field name or operator: everything up to the next ``,`` or ``)``."""
        end = self.at
        while end < len(self.text) and self.text[end] not in ",)":
            end += 1
        word, self.at = self.text[self.at:end], end
        return word

    def value(self, start: int) -> str:
        chars: list[str] = []
        text = self.text
        while self.at < len(text) and text[self.at] not in ",)":
            char = text[self.at]
            if char == "\\":
                escaped = text[self.at + 1:self.at + 2]
                if escaped and escaped in ESCAPED:
                    chars.append(escaped)
                    self.at += 2
                    continue
                raise self.term_error(start, f"at character {self.at + 1}: '\\' must come "
                                             "before one of , ( ) ~ \\")
            if char in "(~":
                raise self.term_error(start, f"at character {self.at + 1}: write '\\{char}' "
                                             f"for a '{char}' in a value")
            chars.append(char)
            self.at += 1
        return "".join(chars)

    def take(self, word: str) -> bool:
        if self.text.startswith(word, self.at):
            self.at += len(word)
            return True
        return False

    def deeper(self, depth: int) -> int:
        """One level down, checked before the step is taken."""
        if depth == MAX_DEPTH:
            raise _where_invalid(f"at character {self.at + 1}: nested deeper than {MAX_DEPTH} "
                                 "(groups and ~not)")
        return depth + 1

    def unexpected(self, wanted: str) -> WhereInvalid:
        if self.at >= len(self.text):
            return _where_invalid(f"at character {self.at + 1}: expected {wanted}, found the end")
        found = shown(self.text[self.at], 1)
        return _where_invalid(f"at character {self.at + 1}: expected {wanted}, found '{found}'")

    def term_error(self, start: int, problem: str) -> WhereInvalid:
        return _where_invalid(f"term {self.terms} {shown(self.term_text(start))}: {problem}")

    def term_text(self, start: int) -> str:
        """The term's text from its ``(`` to its ``)`` (or as far as it goes), for messages:
        one character past ``ECHO`` is enough to say it was cut."""
        end, text = start + 1, self.text
        while end < len(text) and end - start <= ECHO and text[end] != ")":
            end += 2 if text[end] == "\\" else 1
        return text[start:end + 1]


def unparse(node: Node) -> str:
    """``node`` as ``where`` text that parses back to it (groups only where needed)."""
    if isinstance(node, Term):
        return "(" + ",".join([node.field, node.op, *map(escape, node.values)]) + ")"
    if isinstance(node, Not):
        inner = unparse(node.item)
        return "~not" + (inner if isinstance(node.item, Term | Not) else f"({inner})")
    if isinstance(node, And):
        return "~and".join(_grouped(item, (And, Or)) for item in node.items)
    return "~or".join(_grouped(item, (Or,)) for item in node.items)


def _grouped(node: Node, kinds: tuple[type, ...]) -> str:
    return f"({unparse(node)})" if isinstance(node, kinds) else unparse(node)


def escape(value: str) -> str:
    """A value as a term writes it: ``\\`` before ``,``, ``(``, ``)``, ``~`` and ``\\``."""
    return re.sub(r"([,()~\\])", r"\\\1", value)


# -- sort and fields ----------------------------------------------------------------------------

def parse_sort(text: str | None) -> tuple[SortKey, ...]:
    """``-amount,name``: keys in order, a leading ``-`` descending; () when empty."""
    names = _names(text, "sort", MAX_SORT_KEYS, SortInvalid)
    keys: list[SortKey] = []
    seen: set[str] = set()
    for n, name in enumerate(names, 1):
        field = name[1:] if name.startswith("-") else name
        if not is_field(field):
            raise _invalid(SortInvalid, "sort", f"key {n} ('{shown(name)}'): not a field name "
                                                "(1-64 letters, digits, '_' or '-')")
        if field in seen:
            raise _invalid(SortInvalid, "sort", f"key {n} ('{shown(name)}'): {field} is "
                                                "already a key")
        seen.add(field)
        keys.append(SortKey(field, name.startswith("-")))
    return tuple(keys)


def parse_fields(text: str | None) -> tuple[str, ...]:
    """``amount,name``: the data fields to answer, in order; () when empty."""
    names = _names(text, "fields", MAX_FIELDS, FieldsInvalid)
    for n, name in enumerate(names, 1):
        if not is_field(name):
            raise _invalid(FieldsInvalid, "fields", f"field {n} ('{shown(name)}'): not a "
                                                    "field name (1-64 letters, digits, '_' or '-')")
        if name in names[:n - 1]:
            raise _invalid(FieldsInvalid, "fields", f"field {n} ('{name}'): named twice")
    return tuple(names)


def _names(text: str | None, parameter: str, most: int,
           kind: type[errors.ValidationFailed]) -> list[str]:
    if text is None or text == "":
        return []
    if not isinstance(text, str):
        raise _invalid(kind, parameter, "must be text")
    if len(text) > most * _MAX_NAME_LIST or text.count(",") >= most:
        raise _invalid(kind, parameter, f"more than {most} names")
    return text.split(",")


def _invalid(kind: type[errors.ValidationFailed], parameter: str,
             message: str) -> errors.ValidationFailed:
    return kind(f"{parameter}: {message}", errors={parameter: [message]})
