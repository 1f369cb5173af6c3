"""The SVG allow-list, as a pure function: what is no SVG, what is allowed, what is refused."""

import pytest

from integration_hub.integrations.svg_allowlist import css_problem, svg_problems

NS = 'xmlns="http://www.w3.org/2000/svg"'


@pytest.mark.parametrize("content", [
    b"", b"GIF89a", b"plain text", b"<html><body/></html>", b"<notsvg/>",
    b"<svg><rect/></svg>",  # no SVG namespace: a browser draws nothing
    f"<svg {NS}><rect".encode(), f"<svg {NS}/><svg {NS}/>".encode(),
    b'<?xml version="1.0"?><!DOCTYPE html><html/>', b"\xff\xfe\x00<", "<svg/>".encode("latin-1"),
    f"<svg {NS}>\xe9</svg>".encode("latin-1"),
])
def test_what_is_no_svg_at_all(content):
    assert svg_problems(content) is None


@pytest.mark.parametrize("content", [
    f"<svg {NS}/>".encode(),
    f'<?xml version="1.0" encoding="utf-8" standalone="no"?>\n<!-- c --><svg {NS}/>'.encode(),
    b'<s:svg xmlns:s="http://www.w3.org/2000/svg"><s:rect fill="url( \'#a\' )"/></s:svg>',
    f'<svg {NS}><style><![CDATA[.a{{fill:rgb(1,2,3)}} .b:not(.a){{stroke:#fff}}]]></style></svg>'
    .encode(),
    f'<svg {NS}><text>&lt;script&gt; &amp; javascript:</text></svg>'.encode(),
    f'<svg {NS} aria-label="A (b) \\ c"/>'.encode(),
])
def test_what_is_allowed(content):
    assert svg_problems(content) == []


@pytest.mark.parametrize(("content", "problem"), [
    (f"<svg {NS}><script/></svg>", "element <script> is not allowed"),
    (f'<svg {NS}><x:b xmlns:x="urn:x"/></svg>', "element <b> is not allowed (only SVG elements are)"),
    (f'<svg {NS} onload="x"/>', "attribute onload is not allowed"),
    (f'<svg {NS}><use href="#a b"/></svg>', "href may only point into the document (#id)"),
    (f'<svg {NS}><use href="a#b"/></svg>', "href may only point into the document (#id)"),
    (f'<svg {NS}><rect fill="url(a.svg#b)"/></svg>',
     "attribute fill: url() may only point into the document (#id)"),
    (f'<svg {NS}><style>@media print {{}}</style></svg>',
     "<style>: at-rules (@import, @font-face ...) are not allowed"),
    (f'<svg {NS}><?php echo 1 ?></svg>', "processing instruction <?php?> is not allowed"),
    (f'<?xml version="1.0" encoding="latin-1"?><svg {NS}/>', "the SVG must be encoded in UTF-8"),
    (f'<!DOCTYPE svg><svg {NS}/>', "DOCTYPE declarations and entities are not allowed"),
])
def test_what_is_refused_and_said(content, problem):
    assert problem in svg_problems(content.encode())


def test_the_problems_are_counted_once_and_kept_short():
    content = f"<svg {NS}>{'<script/>' * 100}{''.join(f'<e{n}/>' for n in range(40))}</svg>"
    problems = svg_problems(content.encode())
    assert problems.count("element <script> is not allowed") == 1
    assert len(problems) == 20


@pytest.mark.parametrize(("css", "allowed"), [
    ("fill:#fff;stroke:rgb(0, 0, 0)", True),
    ("fill:url(#g)", True),
    ('fill:URL("#g")', True),
    ("transform:translate(1px,2px) rotate(3deg)", True),
    ("width:calc(100% - 2px)", True),
    ("fill:url(https://x.example/p)", False),
    ("fill:url(#g) url(x)", False),
    ("background:image-set('x.png' 1x)", False),
    ("mask:element(#a)", False),
    ("width:expression(alert(1))", False),
    ("fill:u\\72l(x)", False),
    ("@import 'x.css'", False),
    ("content:attr(href)", False),
    ("a</style><script>", False),
])
def test_css(css, allowed):
    assert (css_problem(css) is None) is allowed
