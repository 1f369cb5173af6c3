"""How addresses reach views: the path variable converter, and fixed words that are never ids.

Werkzeug tries a rule's fixed segments before its variables, but when the fixed rule does
not take the request's method it goes on to a variable one: ``GET /api/integrations/provision``
(a POST-only route) reached ``/api/integrations/<integration_id>`` and answered
``404 integration_not_found``. Once every route is added, ``reserve_fixed_words`` gives each
one-segment variable the fixed words that other rules have in its place, and its converter's
pattern leaves them out: such a path reaches the fixed rule alone, and Werkzeug answers
405 with that rule's methods in ``Allow``, as for any path a rule takes with other methods.
See docs/api-conventions.md, "Errors".
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from types import EllipsisType
from typing import Any

from werkzeug.routing import BaseConverter, Map, Rule, UnicodeConverter
from werkzeug.routing.matcher import StateMachineMatcher

from integration_hub.hal import documents as hal


class SegmentConverter(UnicodeConverter):
    """Werkzeug's default path variable (``<name>``, ``<string:name>``), built with
    ``hal.path_segment``: Werkzeug's own leaves "/" and "." as they are, so an id from data
    could turn into other segments of the href. Routing is unchanged: the server decodes
    the segment before the rule matches it."""

    def refusing(self, words: Iterable[str]) -> SegmentConverter:
        """This converter, never matching one of ``words`` (the whole segment)."""
        alternatives = "|".join(re.escape(word) for word in sorted(words))
        self.regex = rf"(?!(?:{alternatives})\Z){self.regex}"
        return self

    def to_url(self, value: Any) -> str:
        return hal.path_segment(str(value))


CONVERTERS = {"default": SegmentConverter, "string": SegmentConverter}


class HubRule(Rule):
    """A rule that remembers its converters by variable, and whose variables refuse the
    words in ``fixed_words`` (set by ``reserve_fixed_words`` before it compiles again)."""

    fixed_words: dict[str, frozenset[str]] = {}

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.converters: dict[str, BaseConverter] = {}

    def get_converter(self, variable_name: str, converter_name: str, args: tuple,
                      kwargs: Any) -> BaseConverter:
        converter = super().get_converter(variable_name, converter_name, args, kwargs)
        self.converters[variable_name] = converter
        words = self.fixed_words.get(variable_name)
        if words and isinstance(converter, SegmentConverter):
            return converter.refusing(words)
        return converter


# One segment of a rule: its fixed word, ANY (a variable of this one segment) or REST (a
# variable that may span several, such as ``<path:...>``: the segments after it do not align).
ANY, REST = None, ...
Segment = str | None | EllipsisType
# A segment that is one variable: ``<name>``, ``<converter:name>``, ``<converter(args):name>``.
_VARIABLE = re.compile(r"<(?:[A-Za-z_]\w*(?:\([^)]*\))?:)?([A-Za-z_]\w*)>")


def segments(rule: HubRule) -> list[tuple[Segment, str | None]]:
    """``/api/integrations/<integration_id>/shares`` ->
    [("api", None), ("integrations", None), (ANY, "integration_id"), ("shares", None)]."""
    shape: list[tuple[Segment, str | None]] = []
    for part in rule.rule.lstrip("/").split("/"):
        variable = _VARIABLE.fullmatch(part)
        if variable is None and "<" not in part:
            shape.append((part, None))
        elif variable is not None and rule.converters[variable.group(1)].part_isolating:
            shape.append((ANY, variable.group(1)))
        else:
            shape.append((REST, None))
    return shape


def fixed_words(shapes: Iterable[list[Segment]], shape: list[Segment], at: int) -> set[str]:
    """The fixed words of ``shapes`` at segment ``at`` of ``shape``, among those whose
    segments before it can name the same path (equal words, or a variable on either side)."""

    def same_place(other: list[Segment]) -> bool:
        return (len(other) > at and isinstance(other[at], str) and REST not in other[:at]
                and all(mine is ANY or theirs is ANY or mine == theirs
                        for mine, theirs in zip(shape[:at], other[:at], strict=True)))

    return {other[at] for other in shapes if same_place(other)}


def reserve_fixed_words(url_map: Map) -> None:
    """Call once every route is added (as ``HubRule``): each one-segment variable refuses
    the fixed words other rules have in its place, so a fixed word is never an id."""
    rules = [rule for rule in url_map.iter_rules() if isinstance(rule, HubRule)]
    shapes = {id(rule): segments(rule) for rule in rules}
    words_only = [[word for word, _ in shape] for shape in shapes.values()]
    for rule in rules:
        shape = [word for word, _ in shapes[id(rule)]]
        reserved = {name: frozenset(words)
                    for at, (word, name) in enumerate(shapes[id(rule)])
                    if word is ANY and REST not in shape[:at]
                    and (words := fixed_words(words_only, shape, at))}
        if reserved:
            rule.fixed_words = reserved
            rule.compile()
    # The matcher holds the patterns the rules had when added: build it again (Werkzeug
    # offers no way to replace a rule in place).
    matcher = StateMachineMatcher(url_map.merge_slashes)
    for rule in url_map.iter_rules():
        if not rule.build_only:
            matcher.add(rule)
    url_map._matcher = matcher
    url_map._remap = True
