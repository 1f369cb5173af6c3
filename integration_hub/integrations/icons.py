"""Integration icons: uploaded images recognised by their bytes, never by their name, and
the catalogue's icons (docs/security.md, "Uploads: imports and icons").

PNG, JPEG, GIF and WebP are taken as they are; an SVG only when the allow-list of
``svg_allowlist`` finds nothing in it that could run or fetch (422 ``svg_not_allowed``
otherwise). Served SVGs also carry a Content-Security-Policy that forbids scripts.

Without an upload the hub serves a catalogue icon: the one ``imageUrl`` names, or without
an ``imageUrl`` the one of the integration's type or name. An ``imageUrl`` elsewhere is a
link in the integration's representation, never a redirect of the hub's.

``upload`` and ``remove`` are the use cases (each owns its transaction; icons are not
audited); ``served_icon`` is what ``GET .../icon`` answers.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy.orm import Session

from integration_hub import errors
from integration_hub.audit.entries import Actor
from integration_hub.db.models import Integration, IntegrationIcon, User
from integration_hub.db.session import transaction
from integration_hub.integrations import store
from integration_hub.integrations.acl import Access, require
from integration_hub.integrations.catalogue import catalogue
from integration_hub.integrations.store import Found
from integration_hub.integrations.svg_allowlist import svg_problems

MAX_ICON_BYTES = 512 * 1024
SVG = "image/svg+xml"
# The path of a catalogue icon, behind whatever prefix a reverse proxy adds.
_CATALOGUE_ICON = re.compile(r"(?:/[A-Za-z0-9_~-][A-Za-z0-9._~-]*)*"
                             r"/api/integration-types/(?P<type>[a-z0-9][a-z0-9._-]*)/icon")
# Verdicts on stored SVGs (by digest): icons stored before the allow-list are judged again.
_STORED_SVG_ALLOWED: dict[bytes, bool] = {}


class UnsupportedImage(errors.UnsupportedMediaType):
    code, title = "unsupported_image", "Not a PNG, JPEG, GIF, WebP or SVG image"


class SvgNotAllowed(errors.ValidationFailed):
    code, title = "svg_not_allowed", "The SVG holds something icons may not"


class IconTooLarge(errors.PayloadTooLarge):
    code, title = "icon_too_large", "Icons are limited to 512 KiB"


class IconNotFound(errors.NotFound):
    code, title = "icon_not_found", "The integration has no icon"


@dataclass(frozen=True)
class Image:
    content: bytes
    content_type: str
    etag: str


def raster_type(content: bytes) -> str | None:
    """The raster image type ``content`` really is, or None."""
    if content.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if content.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if content[:6] in (b"GIF87a", b"GIF89a"):
        return "image/gif"
    if content[:4] == b"RIFF" and content[8:12] == b"WEBP":
        return "image/webp"
    return None


def image_type(content: bytes) -> str:
    """The type of an acceptable icon; 415 for what is no image, 422 for a refused SVG."""
    if found := raster_type(content):
        return found
    problems = svg_problems(content)
    if problems is None:
        raise UnsupportedImage("the bytes are not a PNG, JPEG, GIF, WebP or SVG image "
                               "(the file name and declared type are not trusted)")
    if problems:
        raise SvgNotAllowed("the SVG holds something icons may not: " + "; ".join(problems),
                            errors={"file": problems})
    return SVG


def catalogue_icon_named(image_url: str) -> str | None:
    """The catalogue type whose icon path ``image_url`` is, or None."""
    match = _CATALOGUE_ICON.fullmatch(image_url)
    provider = catalogue().find(match["type"]) if match else None
    return provider.type if provider else None


def catalogue_icon_type(integration: Integration) -> str | None:
    """The catalogue icon the hub serves for the integration when nothing is uploaded."""
    if integration.image_url:
        return catalogue_icon_named(integration.image_url)
    provider = catalogue().icon_for(integration.type, integration.name)
    return provider.type if provider else None


def serves_icon(integration: Integration) -> bool:
    """``GET .../icon`` has an image to answer with (an upload or a catalogue icon)."""
    return bool(integration.has_icon) or catalogue_icon_type(integration) is not None


def store_icon(session: Session, found: Found, read: Callable[[], bytes]) -> IntegrationIcon:
    """Store the bytes ``read`` gives (called only once write access is established)."""
    require(found.access, Access.WRITE)
    content = read()
    if len(content) > MAX_ICON_BYTES:
        raise IconTooLarge()
    content_type = image_type(content)
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
    """The uploaded icon, unless it is an SVG the allow-list refuses (stored before it)."""
    icon = session.get(IntegrationIcon, found.integration.id)
    if icon is None or icon.content_type != SVG:
        return icon
    digest = hashlib.sha256(icon.content).digest()
    if digest not in _STORED_SVG_ALLOWED:
        if len(_STORED_SVG_ALLOWED) > 4096:
            _STORED_SVG_ALLOWED.clear()
        _STORED_SVG_ALLOWED[digest] = svg_problems(icon.content) == []
    return icon if _STORED_SVG_ALLOWED[digest] else None


def delete_icon(session: Session, found: Found) -> None:
    require(found.access, Access.WRITE)
    icon = session.get(IntegrationIcon, found.integration.id)
    if icon is not None:
        session.delete(icon)
    found.integration.has_icon = False
    session.flush()


def served_icon(session: Session, user: User, integration_id: str) -> Image:
    """The upload, else the catalogue icon ``imageUrl`` names or the integration's type or
    name matches; 404 ``icon_not_found`` when there is neither."""
    found = store.find(session, user, integration_id)
    icon = uploaded_icon(session, found)
    if icon is not None:
        return Image(icon.content, icon.content_type, icon.etag)
    type_name = catalogue_icon_type(found.integration)
    svg = catalogue().icon_svg(type_name) if type_name else None
    if svg is None:
        raise IconNotFound("the hub has no icon for this integration; an imageUrl "
                           "elsewhere is a link for clients to follow")
    return Image(svg, SVG, hashlib.sha256(svg).hexdigest()[:40])


def upload(actor: Actor, integration_id: str, read: Callable[[], bytes]) -> Integration:
    """Store the image ``read`` gives, read only once write access is established: a
    refusal comes before any complaint about the body."""
    with transaction() as session:
        found = store.find(session, actor.user, integration_id)
        store_icon(session, found, read)
    return found.integration


def remove(actor: Actor, integration_id: str) -> None:
    with transaction() as session:
        delete_icon(session, store.find(session, actor.user, integration_id))
