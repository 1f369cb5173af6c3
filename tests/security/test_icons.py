"""Icons: no redirect to a host a user picked, and SVG uploads judged by an allow-list
(docs/security.md, "Uploads: imports and icons", "Icons").

``GET .../icon`` answers an uploaded image or a catalogue icon itself, or 404; it never
redirects, so ``imageUrl`` cannot turn the hub's origin into a redirector. An external
``imageUrl`` stays a link in the integration's representation.

An uploaded SVG is refused with 422 ``svg_not_allowed`` unless every element, attribute
and reference in it is on the allow-list; the payloads below are bypasses of a
deny-list (a tab inside ``javascript:``, SMIL animations setting ``href``, namespaced
script elements, external references, CSS escapes ...). Legitimate icons, the
catalogue's own among them, still pass.
"""

from __future__ import annotations

import base64
import io
from pathlib import Path

import pytest

import integration_hub
from integration_hub.db.models import IntegrationIcon

CATALOGUE_ICONS = sorted((Path(integration_hub.__file__).parent / "catalogue" / "icons")
                         .glob("*.svg"))
PNG = base64.b64decode("iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9Q"
                       "DwADhgGAWjR9awAAAABJRU5ErkJggg==")
XLINK = "http://www.w3.org/1999/xlink"


def svg(inner: str, attributes: str = "") -> bytes:
    return (f'<svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="{XLINK}" '
            f'viewBox="0 0 8 8"{attributes}>{inner}</svg>').encode()


@pytest.fixture
def integration(make_integration):
    return make_integration("Icon Test", type="qwxyz-unknown", auth_type="none",
                            shares={"mia": 2})


def upload(client, caller, integration, content: bytes):
    return client.put(f"/api/integrations/{integration}/icon", headers=caller.headers,
                      data={"file": (io.BytesIO(content), "icon.svg", "image/svg+xml")},
                      content_type="multipart/form-data")


def icon(client, caller, integration):
    return client.get(f"/api/integrations/{integration}/icon", headers=caller.headers)


# -- SVG: the bypasses ---------------------------------------------------------------------------

BYPASSES = {
    # javascript: URLs a browser still runs: whitespace and case the old pattern missed
    "tab inside the scheme": svg('<a href="java&#9;script:alert(1)"><rect width="8" height="8"/></a>'),
    "newline inside the scheme": svg('<a xlink:href="java&#10;script:alert(1)"><rect/></a>'),
    "leading space": svg('<a href=" javascript:alert(1)"><rect/></a>'),
    "mixed case": svg('<a href="JaVaScRiPt:alert(1)"><rect/></a>'),
    "character reference": svg('<a href="&#106;avascript&#58;alert(1)"><rect/></a>'),
    "vbscript": svg('<a href="vbscript:msgbox(1)"><rect/></a>'),
    # SMIL animation changing a link or adding a handler after the checks
    "set href": svg('<a><set attributeName="href" to="javascript:alert(1)"/><rect/></a>'),
    "animate xlink:href": svg('<a xlink:href="#x"><animate attributeName="xlink:href" '
                              'values="javascript:alert(1)" begin="0s"/><rect/></a>'),
    "animate on a use": svg('<use href="#r"><animate attributeName="href" '
                            'to="data:image/svg+xml,&lt;svg onload=alert(1)&gt;"/></use>'),
    "set an event handler": svg('<rect><set attributeName="onmouseover" to="alert(1)"/></rect>'),
    "animateTransform": svg('<rect><animateTransform attributeName="transform" '
                            'type="rotate" to="90"/></rect>'),
    "onbegin on an animation": svg('<animate onbegin="alert(1)" attributeName="x" to="1"/>'),
    # scripts and handlers in every spelling
    "script": svg("<script>alert(1)</script>"),
    "script with a prefix": svg('<s:script xmlns:s="http://www.w3.org/2000/svg">alert(1)</s:script>'),
    "XHTML script": svg('<h:script xmlns:h="http://www.w3.org/1999/xhtml">alert(1)</h:script>'),
    "upper-case SCRIPT": svg("<SCRIPT>alert(1)</SCRIPT>"),
    "script by reference": svg('<script xlink:href="data:text/javascript,alert(1)"/>'),
    "onload": svg("", ' onload="alert(1)"'),
    "ONLOAD": svg("", ' ONLOAD="alert(1)"'),
    "handler on a shape": svg('<rect onmouseover="alert(1)"/>'),
    "handler element": svg('<handler xmlns:ev="http://www.w3.org/2001/xml-events" '
                           'ev:event="load">alert(1)</handler>'),
    "foreignObject": svg('<foreignObject><body xmlns="http://www.w3.org/1999/xhtml">'
                         '<img src="x" onerror="alert(1)"/></body></foreignObject>'),
    "iframe": svg('<iframe xmlns="http://www.w3.org/1999/xhtml" src="javascript:alert(1)"/>'),
    "embed": svg('<embed xmlns="http://www.w3.org/1999/xhtml" src="https://evil.example/x.swf"/>'),
    "math": svg('<math xmlns="http://www.w3.org/1998/Math/MathML"><maction '
                'actiontype="statusline" xlink:href="javascript:alert(1)">x</maction></math>'),
    # references that leave the document
    "external use": svg('<use href="https://evil.example/sprite.svg#icon"/>'),
    "data: use": svg('<use xlink:href="data:image/svg+xml;base64,PHN2Zy8+#x"/>'),
    "image": svg('<image href="https://tracker.example/pixel.png" width="8" height="8"/>'),
    "feImage": svg('<filter id="f"><feImage href="https://evil.example/x.svg"/></filter>'),
    "xml:base": svg('<use href="#r" xml:base="https://evil.example/"/>'),
    "link actuated on load": svg('<a xlink:href="#r" xlink:actuate="onLoad" xlink:show="embed"/>'),
    "external fill": svg('<rect fill="url(https://evil.example/p.svg#g)"/>'),
    "CSS escape in a url": svg('<rect fill="u\\72l(https://evil.example/p)"/>'),
    "style url": svg('<rect style="fill:url(javascript:alert(1))"/>'),
    "style image-set": svg('<rect style="mask:image-set(\'https://evil.example/m.png\' 1x)"/>'),
    "style import": svg('<style>@import url(https://evil.example/x.css);</style>'),
    "style background": svg('<style>rect{background:url("https://evil.example/x")}</style>'),
    "style escape": svg('<style>rect{fill:\\75rl(https://evil.example/x)}</style>'),
    "style expression": svg('<rect style="width:expression(alert(1))"/>'),
    # the document itself
    "processing instruction": (b'<?xml version="1.0"?><?xml-stylesheet type="text/xsl" '
                               b'href="https://evil.example/x.xsl"?>' + svg("<rect/>")),
    "internal entities": (b'<?xml version="1.0"?><!DOCTYPE svg [<!ENTITY a "aaaa">]>'
                          b'<svg xmlns="http://www.w3.org/2000/svg">&a;</svg>'),
    "external entity": (b'<?xml version="1.0"?><!DOCTYPE svg [<!ENTITY x SYSTEM '
                        b'"file:///etc/passwd">]><svg xmlns="http://www.w3.org/2000/svg">'
                        b'<text>&x;</text></svg>'),
    "billion laughs": (b'<?xml version="1.0"?><!DOCTYPE svg [<!ENTITY a "aaaaaaaaaa">'
                       b'<!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">'
                       b'<!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;">]>'
                       b'<svg xmlns="http://www.w3.org/2000/svg"><text>&c;</text></svg>'),
    "other encoding declared": (b'<?xml version="1.0" encoding="ISO-8859-1"?>' + svg("<rect/>")),
    "UTF-16": ('<?xml version="1.0" encoding="UTF-16"?>' + svg("<script>alert(1)</script>")
               .decode()).encode("utf-16"),
}


def test_svg_outside_the_allow_list_is_refused(client, admin, integration):
    """Every bypass (one request each, the table in one test to keep it quick)."""
    assert upload(client, admin, integration, PNG).status_code == 200
    problems = []
    for name, content in BYPASSES.items():
        answer = upload(client, admin, integration, content)
        problem = answer.get_json() or {}
        if (answer.status_code, problem.get("code")) != (422, "svg_not_allowed") \
                or not problem.get("errors", {}).get("file"):
            problems.append(f"{name}: {answer.status_code} {problem.get('code')}")
    assert not problems, "\n".join(problems)
    assert icon(client, admin, integration).data == PNG


# -- SVG: legitimate icons ----------------------------------------------------------------------

LEGITIMATE = {
    "editor export with a style sheet and gradient": b"""<?xml version="1.0" encoding="UTF-8"?>
<!-- Generator: a vector editor -->
<svg version="1.1" id="Layer_1" xmlns="http://www.w3.org/2000/svg"
     xmlns:xlink="http://www.w3.org/1999/xlink" x="0px" y="0px" viewBox="0 0 64 64"
     style="enable-background:new 0 0 64 64;" xml:space="preserve" data-name="Layer 1">
<style type="text/css">
\t.st0{fill:url(#SVGID_1_);}
\t.st1{fill:#FFFFFF;stroke:#000000;stroke-miterlimit:10;}
</style>
<linearGradient id="SVGID_1_" gradientUnits="userSpaceOnUse" x1="0" y1="0" x2="64" y2="64">
\t<stop offset="0" style="stop-color:#FF0000"/>
\t<stop offset="1" style="stop-color:rgb(0, 0, 255)"/>
</linearGradient>
<rect class="st0" width="64" height="64"/>
<circle class="st1" cx="32" cy="32" r="12"/>
</svg>""",
    "clip path and fill rule": svg(
        '<g clip-path="url(#clip0)"><path d="M4 0L0 2l4 2 4-2-4-2z" fill="#1E1E1E" '
        'fill-rule="evenodd" clip-rule="evenodd"/></g><defs><clipPath id="clip0">'
        '<rect width="8" height="8" fill="white"/></clipPath></defs>', ' fill="none"'),
    "symbols and fragment references": svg(
        '<defs><symbol id="dot" viewBox="0 0 2 2"><circle cx="1" cy="1" r="1"/></symbol>'
        '<radialGradient id="glow" xlink:href="#base"/><linearGradient id="base">'
        '<stop offset="0%" stop-color="#fff" stop-opacity="0.5"/></linearGradient></defs>'
        '<use xlink:href="#dot" width="4" height="4"/><use href="#dot" x="4" width="4" '
        'height="4" fill="url(#glow)"/>'),
    "filter and transforms": svg(
        '<filter id="shadow"><feGaussianBlur in="SourceAlpha" stdDeviation="1"/>'
        '<feOffset dx="1" dy="1" result="moved"/><feMerge><feMergeNode in="moved"/>'
        '<feMergeNode in="SourceGraphic"/></feMerge></filter>'
        '<g transform="translate(2 2) rotate(45) scale(0.5)" filter="url(#shadow)">'
        '<polygon points="0,0 4,0 2,3"/><polyline points="0 0 1 1" stroke="black"/>'
        '<line x1="0" y1="0" x2="1" y2="1" stroke-linecap="round"/></g>'),
    "text about javascript: is only text": svg(
        '<title>javascript: the good parts</title><desc>onload="nothing"</desc>'
        '<text x="4" y="6" font-family="\'Open Sans\', Arial" text-anchor="middle">'
        '<tspan font-weight="bold">JS</tspan></text>',
        ' role="img" aria-label="JS (logo)" width="8" height="8"'),
    "byte order mark": b"\xef\xbb\xbf" + svg('<rect width="8" height="8"/>'),
}


def test_legitimate_icons_pass(client, admin, integration):
    """The catalogue's own icons and icons as editors write them are stored and served
    unchanged."""
    candidates = {**{path.name: path.read_bytes() for path in CATALOGUE_ICONS}, **LEGITIMATE}
    problems = []
    for name, content in candidates.items():
        answer = upload(client, admin, integration, content)
        if answer.status_code != 200:
            problems.append(f"{name}: {answer.status_code} {answer.get_data(as_text=True)}")
            continue
        served = icon(client, admin, integration)
        if (served.status_code, served.mimetype, served.data) != (200, "image/svg+xml", content):
            problems.append(f"{name}: served {served.status_code} {served.mimetype}")
    assert not problems, "\n".join(problems)


def test_the_catalogue_has_icons_to_check():
    assert len(CATALOGUE_ICONS) >= 25


def test_a_stored_svg_the_allow_list_refuses_is_not_served(client, admin, session, integration):
    """An icon stored before the allow-list existed is judged again when served."""
    content = BYPASSES["set href"]
    session.add(IntegrationIcon(integration_id=integration, content_type="image/svg+xml",
                                content=content, etag="stored-before-the-allow-list"))
    session.commit()

    served = icon(client, admin, integration)

    assert served.data != content
    assert served.status_code == 404 and served.get_json()["code"] == "icon_not_found"


# -- imageUrl: a link, never a redirect ----------------------------------------------------------

def _catalogue_svg(type_name: str) -> bytes:
    return (Path(integration_hub.__file__).parent / "catalogue" / "icons"
            / f"{type_name}.svg").read_bytes()


# (imageUrl, type, what GET .../icon serves: a catalogue icon's type, or None for 404)
IMAGE_URLS = [
    ("https://evil.example/logo.svg", "qwxyz-unknown", None),
    ("http://127.0.0.1:9/logo.png", "slack", None),
    ("https://evil.example/api/integration-types/slack/icon", "qwxyz-unknown", None),
    ("/api/integration-types/github/icon", "qwxyz-unknown", "github"),
    ("/hub/api/integration-types/github/icon", "slack", "github"),
    (None, "slack", "slack"),
    (None, "qwxyz-unknown", None),
]


@pytest.mark.parametrize(("image_url", "type_name", "serves"), IMAGE_URLS)
def test_the_icon_endpoint_never_redirects(client, admin, make_integration, image_url,
                                           type_name, serves):
    integration = make_integration("Qwxyz", type=type_name, auth_type="none")
    if image_url is not None:
        changed = client.put(f"/api/integrations/{integration}", headers=admin.headers,
                             json={"imageUrl": image_url})
        assert changed.status_code == 200, changed.get_data(as_text=True)

    answer = icon(client, admin, integration)
    body = client.get(f"/api/integrations/{integration}", headers=admin.headers).get_json()

    assert "Location" not in answer.headers
    if serves is None:
        assert answer.status_code == 404 and answer.get_json()["code"] == "icon_not_found"
        assert "inf:icon" not in body["_links"]
    else:
        assert (answer.status_code, answer.mimetype) == (200, "image/svg+xml")
        assert answer.data == _catalogue_svg(serves)
        assert answer.headers["Content-Security-Policy"] == \
            "default-src 'none'; style-src 'unsafe-inline'"
        assert answer.headers["X-Content-Type-Options"] == "nosniff"
        assert body["_links"]["inf:icon"]["href"] == f"/api/integrations/{integration}/icon"
    if image_url is not None:  # the configured address is shown as it is: a link
        assert body["imageUrl"] == image_url


@pytest.mark.parametrize("image_url", [
    "/logout", "/api/integrations/0b1c/icon", "/api/integration-types/no-such-type/icon",
    "/api/integration-types/github/icon?x=1", "/api/integration-types/github/icon/../../x",
    "java\tscript:alert(1)", "data:image/svg+xml,<svg/>"])
def test_an_image_url_on_the_hub_must_name_a_catalogue_icon(client, admin, integration,
                                                            image_url):
    answer = client.put(f"/api/integrations/{integration}", headers=admin.headers,
                        json={"imageUrl": image_url})
    assert answer.status_code == 422
    assert "imageUrl" in answer.get_json()["errors"]
