"""Integration icons: recognised by content, size-limited, served safely."""

import base64
import io

import pytest

PNG = base64.b64decode("iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9Q"
                       "DwADhgGAWjR9awAAAABJRU5ErkJggg==")
GIF = base64.b64decode("R0lGODlhAQABAIAAAAAAAP///yH5BAEAAAAALAAAAAABAAEAAAICRAEAOw==")
JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + b"\x00" * 32
WEBP = b"RIFF\x24\x00\x00\x00WEBPVP8 " + b"\x00" * 24
SVG = (b'<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 8 8">'
       b'<rect width="8" height="8" fill="#123456"/></svg>')


@pytest.fixture
def integration(make_integration):
    return make_integration("Icon Test", type="qwxyz-unknown", auth_type="none",
                            shares={"mia": 1, "team:editors": 2})


@pytest.fixture
def editor(make_caller, session):
    from tests import factories

    caller = make_caller("eddie")
    factories.team(session, "editors", members=["eddie"])
    session.commit()
    return caller


def upload(client, caller, integration, content, *, filename="icon.png", raw=False,
           content_type="image/png"):
    path = f"/api/integrations/{integration}/icon"
    if raw:
        return client.put(path, headers={**caller.headers, "Content-Type": content_type},
                          data=content)
    return client.put(path, headers=caller.headers,
                      data={"file": (io.BytesIO(content), filename, content_type)},
                      content_type="multipart/form-data")


@pytest.mark.parametrize("content, expected", [
    (PNG, "image/png"), (GIF, "image/gif"), (JPEG, "image/jpeg"), (WEBP, "image/webp"),
    (SVG, "image/svg+xml")])
def test_upload_and_serve_each_format(client, editor, member, integration, content, expected):
    stored = upload(client, editor, integration, content, filename="whatever.bin",
                    content_type="application/octet-stream")
    assert stored.status_code == 200, stored.get_data(as_text=True)
    assert stored.get_json()["_links"]["inf:icon"]["href"] == f"/api/integrations/{integration}/icon"

    served = client.get(f"/api/integrations/{integration}/icon", headers=member.headers)

    assert served.status_code == 200
    assert served.mimetype == expected
    assert served.data == content
    assert served.headers["X-Content-Type-Options"] == "nosniff"
    again = client.get(f"/api/integrations/{integration}/icon",
                       headers={**member.headers, "If-None-Match": served.headers["ETag"]})
    assert again.status_code == 304


def test_svg_is_served_with_a_script_blocking_policy(client, editor, integration):
    upload(client, editor, integration, SVG, raw=True, content_type="image/svg+xml")
    served = client.get(f"/api/integrations/{integration}/icon", headers=editor.headers)
    assert served.headers["Content-Security-Policy"] == \
        "default-src 'none'; style-src 'unsafe-inline'"


@pytest.mark.parametrize("content, filename", [
    (b"<html><script>alert(1)</script></html>", "icon.png"),
    (b"just some text", "icon.svg"),
    (b'<svg xmlns="http://www.w3.org/2000/svg"><rect', "broken.svg"),
    (b'<svg viewBox="0 0 8 8"><rect/></svg>', "no-namespace.svg"),
    (b"<notsvg/>", "x.svg"),
    (b"\xff\xfe\x00<", "x.svg"),
    (b"", "empty.png"),
])
def test_wrong_content_is_415_and_keeps_the_old_icon(client, editor, integration, content,
                                                     filename):
    upload(client, editor, integration, PNG)
    answer = upload(client, editor, integration, content, filename=filename)

    assert answer.status_code == 415
    assert answer.get_json()["code"] == "unsupported_image"
    assert client.get(f"/api/integrations/{integration}/icon", headers=editor.headers).data == PNG


@pytest.mark.parametrize("content", [
    b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>',
    b'<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"/>',
    b'<svg xmlns="http://www.w3.org/2000/svg"><a href="javascript:alert(1)"><rect/></a></svg>',
    b'<svg xmlns="http://www.w3.org/2000/svg"><foreignObject><p>x</p></foreignObject></svg>',
    b'<?xml version="1.0"?><!DOCTYPE svg [<!ENTITY a "aaaa">]>'
    b'<svg xmlns="http://www.w3.org/2000/svg">&a;</svg>',
])
def test_an_svg_with_active_content_is_422_naming_it(client, editor, integration, content):
    """tests/security/test_icons.py tries the bypasses; here, what the answer says."""
    answer = upload(client, editor, integration, content, filename="x.svg")

    assert answer.status_code == 422
    problem = answer.get_json()
    assert problem["code"] == "svg_not_allowed" and problem["errors"]["file"]
    assert "inf:icon" not in client.get(f"/api/integrations/{integration}",
                                        headers=editor.headers).get_json()["_links"]


def test_oversize_icon_is_413(client, editor, integration):
    big = PNG + b"\x00" * (512 * 1024)
    for raw in (True, False):
        answer = upload(client, editor, integration, big, raw=raw)
        assert answer.status_code == 413
        assert answer.get_json()["code"] == "icon_too_large"


def test_missing_file_field(client, editor, integration):
    answer = client.put(f"/api/integrations/{integration}/icon", headers=editor.headers,
                        data={"other": (io.BytesIO(PNG), "x.png")},
                        content_type="multipart/form-data")
    assert answer.status_code == 415


def test_readers_cannot_change_the_icon(client, member, integration, make_caller):
    assert upload(client, member, integration, PNG).status_code == 403
    assert client.delete(f"/api/integrations/{integration}/icon",
                         headers=member.headers).status_code == 403
    stranger = make_caller("stranger")
    assert upload(client, stranger, integration, PNG).status_code == 404
    assert client.get(f"/api/integrations/{integration}/icon",
                      headers=stranger.headers).status_code == 404


def test_fallbacks_are_served_or_404(client, admin, editor, integration, make_integration):
    path = f"/api/integrations/{integration}/icon"
    no_icon = client.get(path, headers=editor.headers)
    assert no_icon.status_code == 404 and no_icon.get_json()["code"] == "icon_not_found"

    upload(client, editor, integration, PNG)
    assert client.delete(path, headers=editor.headers).status_code == 204
    assert client.get(path, headers=editor.headers).status_code == 404
    client.put(f"/api/integrations/{integration}", headers=editor.headers,
               json={"imageUrl": "https://cdn.example.com/logo.svg"})
    configured = client.get(path, headers=editor.headers)
    assert configured.status_code == 404  # a link for clients, not the hub's to serve
    assert client.get(f"/api/integrations/{integration}", headers=editor.headers
                      ).get_json()["imageUrl"] == "https://cdn.example.com/logo.svg"

    slack = make_integration("Team chat", type="slack", auth_type="none")
    catalogue_icon = client.get(f"/api/integrations/{slack}/icon", headers=admin.headers)
    assert catalogue_icon.status_code == 200 and catalogue_icon.mimetype == "image/svg+xml"
    assert catalogue_icon.data == client.get("/api/integration-types/slack/icon").data
    again = client.get(f"/api/integrations/{slack}/icon",
                       headers={**admin.headers, "If-None-Match": catalogue_icon.headers["ETag"]})
    assert again.status_code == 304


@pytest.mark.parametrize("image_url", ["javascript:alert(1)", "//evil.example/x.png", "ftp://x/y",
                                       "/static/logo.png"])
def test_image_url_must_be_http_or_a_catalogue_icon(client, admin, integration, image_url):
    answer = client.put(f"/api/integrations/{integration}", headers=admin.headers,
                        json={"imageUrl": image_url})
    assert answer.status_code == 422
