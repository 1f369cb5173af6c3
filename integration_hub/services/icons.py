"""Integration icons: uploaded images recognised by their bytes, never by their name.

PNG, JPEG, GIF, WebP and SVG are accepted. An SVG must be a plain SVG document
(no DOCTYPE or entities, no scripts, no event handlers, no foreign objects);
served SVGs also carry a Content-Security-Policy that forbids scripts.
"""

from __future__ import annotations

import hashlib
import re
import xml.etree.ElementTree as ET
from collections.abc import Callable

from sqlalchemy.orm import Session

from integration_hub import errors
from integration_hub.db.models import IntegrationIcon
from integration_hub.services.acl import Access, require
from integration_hub.services.integrations import Found

MAX_ICON_BYTES = 512 * 1024
SVG = "image/svg+xml"
SVG_NAMESPACE = "{http://www.w3.org/2000/svg}"
_FORBIDDEN_SVG_ELEMENTS = {"script", "foreignobject", "iframe", "embed", "object"}
_EXTERNAL_REFERENCE = re.compile(r"^\s*(?:javascript|data|https?|file|ftp):", re.IGNORECASE)


class UnsupportedImage(errors.UnsupportedMediaType):
    code, title = "unsupported_image", "Not a PNG, JPEG, GIF, WebP or safe SVG image"


class IconTooLarge(errors.PayloadTooLarge):
    code, title = "icon_too_large", "Icons are limited to 512 KiB"


class IconNotFound(errors.NotFound):
    code, title = "icon_not_found", "The integration has no icon"


def sniff_image(content: bytes) -> str | None:
    """The image type ``content`` really is, or None."""
    if content.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if content.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if content[:6] in (b"GIF87a", b"GIF89a"):
        return "image/gif"
    if content[:4] == b"RIFF" and content[8:12] == b"WEBP":
        return "image/webp"
    if is_safe_svg(content):
        return SVG
    return None


def is_safe_svg(content: bytes) -> bool:
    """A well-formed SVG document with nothing active in it."""
    head = content[:1024].lstrip(b"\xef\xbb\xbf \t\r\n")
    if not (head.startswith(b"<?xml") or head.startswith(b"<svg") or head.startswith(b"<!--")):
        return False
    if b"<!DOCTYPE" in content.upper() or b"<!ENTITY" in content.upper():
        return False  # no entity expansion, no external DTDs
    try:
        root = ET.fromstring(content)
    except ET.ParseError:
        return False
    if root.tag not in (f"{SVG_NAMESPACE}svg", "svg"):
        return False
    for element in root.iter():
        local = element.tag.rsplit("}", 1)[-1].lower() if isinstance(element.tag, str) else ""
        if local in _FORBIDDEN_SVG_ELEMENTS:
            return False
        for name, value in element.attrib.items():
            attribute = name.rsplit("}", 1)[-1].lower()
            if attribute.startswith("on"):
                return False
            if attribute == "href" and _EXTERNAL_REFERENCE.match(value):
                return False
    return True


def store_icon(session: Session, found: Found, read: Callable[[], bytes]) -> IntegrationIcon:
    """Store the bytes ``read`` gives (called only once write access is established)."""
    require(found.access, Access.WRITE)
    content = read()
    if len(content) > MAX_ICON_BYTES:
        raise IconTooLarge()
    content_type = sniff_image(content)
    if content_type is None:
        raise UnsupportedImage("the bytes are not a PNG, JPEG, GIF, WebP or safe SVG image "
                               "(the file name and declared type are not trusted)")
    icon = session.get(IntegrationIcon, found.integration.id)
    if icon is None:
        icon = IntegrationIcon(integration_id=found.integration.id)
        session.add(icon)
    icon.content_type = content_type
    icon.content = content
    icon.etag = hashlib.sha256(content).hexdigest()[:40]
    found.integration.has_icon = True
    session.flush()
    return icon


def uploaded_icon(session: Session, found: Found) -> IntegrationIcon | None:
    return session.get(IntegrationIcon, found.integration.id)


def delete_icon(session: Session, found: Found) -> None:
    require(found.access, Access.WRITE)
    icon = session.get(IntegrationIcon, found.integration.id)
    if icon is not None:
        session.delete(icon)
    found.integration.has_icon = False
    session.flush()
