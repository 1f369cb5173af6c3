"""SVG icons judged by an allow-list (docs/security.md, "Uploads: imports and icons").

A deny-list of dangerous things loses to spellings it did not foresee (a tab inside
``javascript:``, an animation setting ``href`` after the check, a script element under
another prefix). Here everything must be known to be inert: elements of the SVG
namespace from a fixed list, attributes from a fixed list, links to fragments of the
document itself (``#id``) only, CSS without at-rules, escapes or functions beyond a
fixed list, ``url()`` to fragments only. No DOCTYPE, no processing instruction, UTF-8
only. The document is parsed with expat, which stops at the first refused thing: a
DOCTYPE is never expanded.

Pure: bytes in, a verdict out.
"""

from __future__ import annotations

import re
from xml.parsers import expat

SVG_NS = "http://www.w3.org/2000/svg"
XLINK_NS = "http://www.w3.org/1999/xlink"
XML_NS = "http://www.w3.org/XML/1998/namespace"
_SEPARATOR = " "  # expat joins a name's namespace and local part with it

ELEMENTS = frozenset("""
    svg g defs title desc metadata symbol use switch style
    path rect circle ellipse line polyline polygon text tspan textPath
    linearGradient radialGradient stop clipPath mask pattern marker
    filter feBlend feColorMatrix feComponentTransfer feFuncA feFuncB feFuncG feFuncR
    feComposite feDropShadow feFlood feGaussianBlur feMerge feMergeNode feMorphology feOffset
""".split())
ATTRIBUTES = frozenset("""
    id class style role lang tabindex focusable aria-label aria-labelledby aria-describedby
    aria-hidden data-name version baseProfile viewBox preserveAspectRatio width height
    x y x1 y1 x2 y2 cx cy r rx ry fx fy fr d points pathLength transform
    fill fill-opacity fill-rule stroke stroke-width stroke-linecap stroke-linejoin
    stroke-miterlimit stroke-dasharray stroke-dashoffset stroke-opacity opacity
    clip-path clip-rule clipPathUnits mask maskUnits maskContentUnits
    filter filterUnits primitiveUnits gradientUnits gradientTransform spreadMethod
    offset stop-color stop-opacity patternUnits patternContentUnits patternTransform
    markerWidth markerHeight markerUnits refX refY orient marker-start marker-mid marker-end
    font-family font-size font-size-adjust font-weight font-style font-variant font-stretch
    text-anchor dominant-baseline alignment-baseline baseline-shift letter-spacing
    word-spacing text-decoration text-rendering writing-mode dx dy rotate textLength
    lengthAdjust startOffset method spacing side
    visibility display color overflow vector-effect shape-rendering image-rendering
    color-interpolation color-interpolation-filters color-rendering paint-order
    mix-blend-mode isolation enable-background requiredFeatures systemLanguage
    in in2 result mode operator k1 k2 k3 k4 stdDeviation edgeMode type values
    tableValues slope intercept amplitude exponent radius flood-color flood-opacity
    lighting-color media href
""".split())
NAMESPACED_ATTRIBUTES = frozenset({f"{XLINK_NS}{_SEPARATOR}href", f"{XML_NS}{_SEPARATOR}space",
                                   f"{XML_NS}{_SEPARATOR}lang"})
# Plain text for people (screen readers, editors): never a URL, never CSS.
TEXT_ATTRIBUTES = frozenset({"id", "class", "role", "lang", "aria-label", "aria-labelledby",
                             "aria-describedby", "data-name", f"{XML_NS}{_SEPARATOR}lang"})
# CSS functions that fetch nothing and run nothing (url() is checked on its own).
CSS_FUNCTIONS = frozenset("""
    rgb rgba hsl hsla hwb lab lch color calc min max clamp var
    matrix translate translatex translatey scale scalex scaley rotate skewx skewy
    blur brightness contrast drop-shadow grayscale hue-rotate invert opacity saturate sepia
    inset circle ellipse polygon rect not is where nth-child nth-last-child nth-of-type
    nth-last-of-type
""".split())

_FRAGMENT = re.compile(r"#[A-Za-z_][A-Za-z0-9_.:-]*")
_FUNCTION = re.compile(r"([A-Za-z_-][A-Za-z0-9_-]*)\s*\(")
_URL = re.compile(r"""url\(\s*(['"]?)(#[A-Za-z_][A-Za-z0-9_.:-]*)\1\s*\)""", re.IGNORECASE)
_UTF8 = frozenset({"utf-8", "utf8", "us-ascii", "ascii"})
_OTHER_BOMS = (b"\xff\xfe", b"\xfe\xff", b"\x00\x00\xfe\xff")
MAX_PROBLEMS = 20
_NOT_UTF8 = "the SVG must be encoded in UTF-8"


class _Refused(Exception):
    """Stops parsing at the first thing that must not be read further (a DOCTYPE)."""


def svg_problems(content: bytes) -> list[str] | None:
    """None when ``content`` is no SVG document at all; else what the allow-list refuses
    in it (an empty list: the SVG is allowed)."""
    body = content.removeprefix(b"\xef\xbb\xbf")
    if body.startswith(_OTHER_BOMS):  # UTF-16 or UTF-32: an SVG, if it reads as one, refused
        encoding = "utf-32" if body.startswith(_OTHER_BOMS[2]) or body[2:4] == b"\0\0" \
            else "utf-16"
        try:
            problems = svg_problems(body.decode(encoding).encode("utf-8"))
        except UnicodeError:
            return None
        return None if problems is None else list(dict.fromkeys([_NOT_UTF8, *problems]))
    if not body.lstrip(b" \t\r\n").startswith(b"<"):
        return None
    try:
        body.decode("utf-8")
    except UnicodeDecodeError:
        return None
    check = _Check()
    try:
        check.parse(body)
    except _Refused:
        pass
    except expat.ExpatError:
        return None  # not well-formed: not an image a browser would draw
    if not check.doctype_svg and check.root != f"{SVG_NS}{_SEPARATOR}svg":
        return None
    return check.problems[:MAX_PROBLEMS]


class _Check:
    def __init__(self) -> None:
        self.problems: list[str] = []
        self.root: str | None = None
        self.doctype_svg = False
        # One entry per open element: the text read so far for a <style>, else None.
        self._styles: list[list[str] | None] = []

    def parse(self, body: bytes) -> None:
        parser = expat.ParserCreate(encoding="utf-8", namespace_separator=_SEPARATOR)
        parser.XmlDeclHandler = self._declaration
        parser.StartDoctypeDeclHandler = self._doctype
        parser.EntityDeclHandler = self._doctype
        parser.ProcessingInstructionHandler = self._instruction
        parser.StartElementHandler = self._start
        parser.EndElementHandler = self._end
        parser.CharacterDataHandler = self._text
        parser.Parse(body, True)

    def _refuse(self, problem: str) -> None:
        if problem not in self.problems:
            self.problems.append(problem)

    def _declaration(self, version, encoding, standalone) -> None:
        if encoding is not None and encoding.lower() not in _UTF8:
            self._refuse(_NOT_UTF8)

    def _doctype(self, name, *_) -> None:
        self.doctype_svg = str(name).rsplit(":", 1)[-1] == "svg"
        self._refuse("DOCTYPE declarations and entities are not allowed")
        raise _Refused

    def _instruction(self, target, data) -> None:
        self._refuse(f"processing instruction <?{_shown(target)}?> is not allowed")

    def _start(self, name: str, attributes: dict[str, str]) -> None:
        namespace, _, local = name.rpartition(_SEPARATOR)
        if self.root is None:
            self.root = name
        if namespace != SVG_NS or local not in ELEMENTS:
            self._refuse(f"element <{_shown(local)}> is not allowed"
                         + ("" if namespace == SVG_NS else " (only SVG elements are)"))
        for attribute, value in attributes.items():
            self._attribute(attribute, value)
        self._styles.append([] if name == f"{SVG_NS}{_SEPARATOR}style" else None)

    def _end(self, name: str) -> None:
        text = self._styles.pop()
        if text is not None and (problem := css_problem("".join(text))):
            self._refuse(f"<style>: {problem}")

    def _text(self, data: str) -> None:
        if self._styles and self._styles[-1] is not None:
            self._styles[-1].append(data)

    def _attribute(self, attribute: str, value: str) -> None:
        shown = _shown(attribute.rpartition(_SEPARATOR)[2])
        if attribute not in ATTRIBUTES and attribute not in NAMESPACED_ATTRIBUTES:
            self._refuse(f"attribute {shown} is not allowed")
        elif attribute.endswith("href"):
            if not _FRAGMENT.fullmatch(value):
                self._refuse(f"{shown} may only point into the document (#id)")
        elif attribute not in TEXT_ATTRIBUTES and (problem := css_problem(value)):
            self._refuse(f"attribute {shown}: {problem}")


def css_problem(text: str) -> str | None:
    """None when ``text`` (a style sheet, a style attribute or a presentation attribute's
    value) can fetch and run nothing, else why not."""
    if "\\" in text:
        return "escapes (\\) are not allowed"
    if "@" in text:
        return "at-rules (@import, @font-face ...) are not allowed"
    if "<" in text:
        return "'<' is not allowed"
    rest = _URL.sub("", text)
    if re.search(r"url\s*\(", rest, re.IGNORECASE):
        return "url() may only point into the document (#id)"
    for function in _FUNCTION.findall(rest):
        if function.lower() not in CSS_FUNCTIONS:
            return f"the function {_shown(function)}() is not allowed"
    return None


def _shown(name: str) -> str:
    """A name from the document, short and printable, for an error message."""
    return re.sub(r"[^A-Za-z0-9_.:-]", "?", str(name))[:64]
